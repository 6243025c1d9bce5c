//! The metrics operators alarm on, as CloudWatch embedded metric format lines: deliveries by
//! outcome, token refreshes by result, GitLab's answers by status. Its own test binary, so the
//! process-wide recorder counts only what this test does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;
use shared::telemetry;

const NAMESPACE: &str = "OoreGitLab/test";
const OWNER: Option<Role> = Some(Role::Owner);

/// Every EMF line flushed, read back as (metric, dimension name, dimension value) → count.
fn flushed() -> BTreeMap<(String, String, String), u64> {
    let mut buffer = Vec::new();
    telemetry::flush(&mut buffer);
    let mut counts = BTreeMap::new();
    for line in String::from_utf8(buffer).unwrap().lines() {
        let document: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        assert!(document["_aws"]["Timestamp"].is_u64(), "{line}");
        let dimensions = directive["Dimensions"][0].as_array().unwrap();
        assert_eq!(dimensions.len(), 1, "one label per metric: {line}");
        let dimension = dimensions[0].as_str().unwrap().to_string();
        let value = document[&dimension].as_str().unwrap().to_string();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap().to_string();
            let count = document[&name]
                .as_u64()
                .unwrap_or_else(|| panic!("{name} has no count: {line}"));
            counts.insert((name, dimension.clone(), value.clone()), count);
        }
    }
    counts
}

fn key(metric: &str, dimension: &str, value: &str) -> (String, String, String) {
    (metric.into(), dimension.into(), value.into())
}

#[tokio::test]
async fn deliveries_refreshes_and_gitlab_answers_are_counted_as_emf() {
    telemetry::install(NAMESPACE);
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let started = h.connect().await;
    let secret = started["webhook_secret"].as_str().unwrap().to_string();
    let (_, list) = h
        .call(
            Method::GET,
            &format!(
                "/v1/integrations/{}/repositories",
                started["integration"]["id"].as_str().unwrap()
            ),
            OWNER,
            None,
        )
        .await;
    let project: u64 = list["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let before = flushed();
    assert!(
        before
            .keys()
            .any(|(metric, _, status)| metric == telemetry::GITLAB_RESPONSES && status == "2xx"),
        "connect's GitLab calls are counted: {before:?}"
    );

    let sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    let push = json!({"object_kind": "push", "ref": "refs/heads/main", "after": sha, "checkout_sha": sha,
                      "project": {"id": project}})
    .to_string();
    let tag_deleted =
        json!({"object_kind": "push", "ref": "refs/heads/gone", "after": "0000000000000000000000000000000000000000",
                             "checkout_sha": null, "project": {"id": project}})
        .to_string();
    let headers = |token: &str, key: &str| {
        vec![
            ("x-gitlab-token".to_string(), token.to_string()),
            ("x-gitlab-event".to_string(), "Push Hook".to_string()),
            ("idempotency-key".to_string(), key.to_string()),
        ]
    };
    let deliveries = [
        (headers(&secret, "one"), &push, 200),
        (headers(&secret, "one"), &push, 200),
        (headers(&secret, "two"), &tag_deleted, 200),
        (headers("oore_wrong", "three"), &push, 401),
    ];
    for (headers, body, expected) in deliveries {
        let (status, _, _) = h
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers,
                Some(body.clone().into_bytes()),
            )
            .await;
        assert_eq!(status, expected);
    }

    // An OAuth integration whose token expired refreshes once; one whose refresh GitLab refuses
    // is counted as refused.
    let oauth = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&oauth).await;
    assert_eq!(h.raw(Method::GET, &back, None, None).await.0, 303);
    for token in h.gitlab.state.oauth.access_tokens() {
        h.gitlab.state.expire_token(&token);
    }
    h.clock.0.fetch_add(7200, Ordering::SeqCst);
    let sync = format!("/v1/integrations/{oauth}/installations");
    assert_eq!(h.call(Method::POST, &sync, OWNER, Some("{}")).await.0, 200);
    h.gitlab.state.oauth.add_app(
        oore_gitlab_tests::CLIENT_ID,
        "rotated-secret",
        oore_gitlab_tests::CALLBACK_URL,
    );
    h.clock.0.fetch_add(7200, Ordering::SeqCst);
    let (status, _) = h.call(Method::POST, &sync, OWNER, Some("{}")).await;
    assert_eq!(status, 409);

    // GitLab rate limits a sync's project pages for a while.
    h.gitlab.state.rate_limit_next(2);
    let personal = started["integration"]["id"].as_str().unwrap();
    h.sync_and_settle(personal).await;

    let counts = flushed();
    let deliveries = telemetry::DELIVERIES;
    assert_eq!(
        counts.get(&key(deliveries, "Outcome", "triggered")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&key(deliveries, "Outcome", "duplicate")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&key(deliveries, "Outcome", "ignored")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&key(deliveries, "Outcome", "refused")),
        Some(&1),
        "{counts:?}"
    );
    let refreshes = telemetry::TOKEN_REFRESHES;
    assert_eq!(
        counts.get(&key(refreshes, "Result", "refreshed")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get(&key(refreshes, "Result", "refused")), Some(&1), "{counts:?}");
    assert!(
        counts
            .get(&key(telemetry::GITLAB_RESPONSES, "Status", "429"))
            .is_some_and(|n| *n >= 1),
        "{counts:?}"
    );
    assert!(
        counts
            .get(&key(telemetry::GITLAB_RESPONSES, "Status", "401"))
            .is_some_and(|n| *n >= 1),
        "the expired token's 401 is counted: {counts:?}"
    );
    // A flush sends only what was counted since the one before.
    assert!(flushed().is_empty());
}
