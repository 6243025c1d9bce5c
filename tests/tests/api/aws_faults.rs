//! Webhook deliveries while AWS misbehaves: a proxy in front of moto fails one call in five
//! (DynamoDB's throttling answer, 500, 503) and every delivery is resent on any non-2xx answer,
//! as GitLab resends. Nothing is lost, nothing builds twice, and few first attempts are refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use http::Method;
use oore_gitlab_tests::fault_proxy::FaultProxy;
use oore_gitlab_tests::{Harness, moto_endpoint};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::json;
use shared::inbound::http::auth::Role;

const DELIVERIES: usize = 200;
/// GitLab keeps resending a failed delivery; the test gives up long before it would.
const MOST_ATTEMPTS: usize = 10;

#[tokio::test]
async fn deliveries_survive_an_aws_failing_one_call_in_five_on_moto() {
    let proxy = FaultProxy::start(&moto_endpoint(), 5).await;
    let h = Arc::new(
        Harness::on_moto_via(
            &proxy.url,
            FakeOptions {
                projects: 3,
                ..FakeOptions::default()
            },
        )
        .await,
    );
    let started = h.connect().await;
    let integration = started["integration"]["id"].as_str().unwrap().to_string();
    let secret = started["webhook_secret"].as_str().unwrap().to_string();
    let (_, list) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/repositories"),
            Some(Role::Owner),
            None,
        )
        .await;
    let project: u64 = list["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    proxy.counts.failing.store(true, Ordering::SeqCst);
    let refused_first = Arc::new(AtomicU64::new(0));
    let outcomes: Vec<(String, Vec<u16>)> = futures::stream::iter(0..DELIVERIES)
        .map(|n| {
            let (h, secret, refused_first) = (h.clone(), secret.clone(), refused_first.clone());
            async move {
                // Never all zeros: that is a branch deletion, which builds nothing.
                let sha = format!("a{n:039x}");
                let body = json!({"object_kind": "push", "ref": "refs/heads/main", "after": sha,
                                  "checkout_sha": sha, "project": {"id": project}})
                .to_string();
                let key = format!("delivery-{n}");
                let headers = vec![
                    ("x-gitlab-token".to_string(), secret),
                    ("x-gitlab-event".to_string(), "Push Hook".to_string()),
                    ("idempotency-key".to_string(), key.clone()),
                    ("x-gitlab-event-uuid".to_string(), uuid::Uuid::new_v4().to_string()),
                ];
                let mut statuses = Vec::new();
                for _ in 0..MOST_ATTEMPTS {
                    let (status, _, _) = h
                        .send(
                            Method::POST,
                            "/v1/webhooks/gitlab",
                            &headers,
                            Some(body.clone().into_bytes()),
                        )
                        .await;
                    statuses.push(status);
                    if (200..300).contains(&status) {
                        break;
                    }
                }
                if statuses[0] >= 300 {
                    refused_first.fetch_add(1, Ordering::SeqCst);
                }
                (key, statuses)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    proxy.counts.failing.store(false, Ordering::SeqCst);

    let failed_calls = proxy.counts.failed.load(Ordering::SeqCst);
    let forwarded = proxy.counts.forwarded.load(Ordering::SeqCst);
    let refused = refused_first.load(Ordering::SeqCst);
    println!(
        "{DELIVERIES} deliveries: AWS calls failed {failed_calls}, forwarded {forwarded}; first attempts refused {refused}"
    );
    assert!(
        failed_calls as f64 >= 0.1 * (failed_calls + forwarded) as f64,
        "the proxy failed calls: {failed_calls} of {}",
        failed_calls + forwarded
    );
    for (key, statuses) in &outcomes {
        assert!(
            statuses.last().is_some_and(|s| (200..300).contains(s)),
            "{key} was never accepted: {statuses:?}"
        );
    }
    assert!(
        refused as f64 <= 0.03 * DELIVERIES as f64,
        "{refused} of {DELIVERIES} first attempts were refused"
    );

    // Every delivery made exactly one trigger.
    let triggers = h.triggers_of(&integration.as_str().into()).await;
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for trigger in &triggers {
        *per_key.entry(trigger.delivery_key.clone()).or_default() += 1;
    }
    assert_eq!(triggers.len(), DELIVERIES, "one trigger per delivery");
    assert!(per_key.values().all(|n| *n == 1), "a delivery built twice");
    for (key, _) in &outcomes {
        assert_eq!(per_key.get(key), Some(&1), "{key} lost");
    }
}
