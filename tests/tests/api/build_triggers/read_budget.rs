//! What reading the queue costs on DynamoDB (moto), metered by DynamoDB's sizing rules: a page
//! of one integration's triggers, or of one status across integrations, reads about what it
//! returns, however many other triggers are queued.

use futures::stream::{self, StreamExt, TryStreamExt};
use http::Method;
use oore_gitlab_tests::records::{delivery, record, repo, trigger};
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::Value;
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::IntegrationId;
use shared::inbound::http::auth::Role;

/// Queues `count` triggers of `integration`, each a build of its own, carrying their names.
async fn queue(h: &Harness, integration: &IntegrationId, count: usize, first_at: i64) {
    let services = &h.app.services;
    services
        .integrations
        .create_integration(&record(integration), None, None)
        .await
        .unwrap();
    services
        .repositories
        .write_repositories(integration, &[repo(integration, 1)], &[])
        .await
        .unwrap();
    stream::iter(0..count)
        .map(|n| async move {
            let key = format!("{integration}-{n}");
            let at = first_at + n as i64;
            let mut built = trigger(integration, &key, at);
            built.clone_url = Some("https://gitlab.example.com/group/project-1.git".into());
            let entry = delivery(integration, &key, at, DeliveryOutcome::Triggered);
            services
                .webhooks
                .record_delivery(&entry, Some(&built))
                .await
                .map(|_| ())
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_page_of_the_queue_reads_about_what_it_returns_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let (ours, others) = (IntegrationId::generate(), IntegrationId::generate());
    queue(&h, &others, 150, 1_000).await;
    queue(&h, &ours, 3, 2_000).await;
    let runner = h.token_for(Role::Runner, "runner-1");
    let meter = h.aws_calls.as_ref().unwrap().capacity();
    let read = |path: String| {
        let (h, runner, meter) = (&h, &runner, &meter);
        async move {
            let before = meter.snapshot();
            let (status, page) = h.call_with(Method::GET, &path, runner, None).await;
            assert_eq!(status, 200, "{page}");
            (
                page["triggers"].as_array().map_or(0, Vec::len),
                (meter.snapshot() - before).read,
            )
        }
    };

    let (listed, units) = read(format!("/v1/build-triggers?integration_id={ours}")).await;
    assert_eq!(listed, 3);
    assert!(
        units <= 3.0,
        "one integration's 3 triggers beside 150 others cost {units} read units"
    );

    let (listed, units) = read("/v1/build-triggers?status=queued&limit=10".into()).await;
    assert_eq!(listed, 10);
    assert!(units <= 3.0, "a page of 10 queued triggers cost {units} read units");

    let (_, page) = h
        .call_with(Method::GET, "/v1/build-triggers?status=queued&limit=1", &runner, None)
        .await;
    let first: &Value = &page["triggers"][0];
    assert_eq!(first["full_name"], "group/project-1", "names come with the trigger");
}
