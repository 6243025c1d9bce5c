//! Purges of deleted integrations stream: keys only, a page at a time, handing the rest over
//! near the deadline, until nothing of the integration is left on DynamoDB.

use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use oore_gitlab_tests::records::{delivery, record, repo};
use oore_gitlab_tests::{Backend, Harness, integration_items};
use oore_local::fake_gitlab::FakeOptions;
use shared::app::sync::jobs::{JobOutcome, run_job};
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::IntegrationId;
use shared::ports::SyncJob;
use tokio::time::Instant;

const REPOSITORIES: u64 = 20_000;
const DELIVERIES: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_streams_across_a_hand_over_until_nothing_is_left_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let services = &h.app.services;
    let id = IntegrationId::generate();
    services
        .integrations
        .create_integration(&record(&id), None, None)
        .await
        .unwrap();
    let repositories: Vec<_> = (1..=REPOSITORIES).map(|project| repo(&id, project)).collect();
    services
        .repositories
        .write_repositories(&id, &repositories, &[])
        .await
        .unwrap();
    stream::iter(0..DELIVERIES)
        .map(|n| {
            let entry = delivery(&id, &format!("d-{n}"), 1_000 + n as i64, DeliveryOutcome::Ignored);
            async move { services.webhooks.log_delivery(&entry).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    let table = services.config.table_name.clone();
    let stored = integration_items(&table, &id).await;
    assert!(
        stored > REPOSITORIES as usize + DELIVERIES,
        "the integration holds {stored} items"
    );

    let mut deleted = services.integrations.get_integration(&id).await.unwrap().unwrap();
    deleted.deleted_at = Some(2_000);
    services.integrations.update_integration(&deleted).await.unwrap();
    let job = SyncJob {
        integration_id: id.clone(),
        generation: 0,
        purge: true,
    };
    // A deadline already within the hand-over margin: one page, then the rest is queued.
    let outcome = run_job(services, &job, Some(Instant::now() + Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(outcome, JobOutcome::HandedOver);
    let after_first = integration_items(&table, &id).await;
    assert!(
        after_first < stored && after_first > 0,
        "one page went before the hand-over: {stored} → {after_first}"
    );

    // The handed-over job runs on the harness's in-process queue.
    let until = Instant::now() + Duration::from_secs(300);
    while services.integrations.get_integration(&id).await.unwrap().is_some() {
        assert!(Instant::now() < until, "the purge did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        integration_items(&table, &id).await,
        0,
        "nothing of the integration is left"
    );
}
