//! Tokens that run out: the status the integration detail shows, the daily check (fed the
//! scheduled-event document its function receives) that publishes `Token Expiring`, and GitLab's
//! own `access_token` warning delivered to our hook.

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT, START_TIME};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use serde_json::{Value, json};
use shared::domain::credential::expiry_from_date;
use shared::inbound::http::auth::Role;

const OWNER: Option<Role> = Some(Role::Owner);
/// Ten days after the tests' clock (2026-11-26): within the 30 days that count as expiring.
const SOON: &str = "2026-12-06";
/// The id GitLab's token fixture carries (every fake token answers it).
const TOKEN_ID: u64 = 42;

fn expiring_token() -> FakeToken {
    FakeToken {
        expires_at: Some(SOON.into()),
        ..FakeToken::live(&["api"])
    }
}

async fn detail(h: &Harness, id: &str) -> Value {
    let (status, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail
}

#[tokio::test]
async fn the_detail_tells_what_the_token_is_worth() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let started = h.connect().await;
    let id = started["integration"]["id"].as_str().unwrap();
    let shown = detail(&h, id).await;
    assert_eq!(shown["token_status"], "valid");
    assert_eq!(shown["token_expires_at"], json!(expiry_from_date(Some("2099-01-01"))));

    h.gitlab.state.add_token("glpat-soon", expiring_token());
    let (status, _) = h
        .call(
            Method::PUT,
            &format!("/v1/integrations/{id}/gitlab-token"),
            OWNER,
            Some(r#"{"access_token":"glpat-soon"}"#),
        )
        .await;
    assert_eq!(status, 200);
    let shown = detail(&h, id).await;
    assert_eq!(
        (&shown["token_status"], &shown["token_expires_at"]),
        (&json!("expiring"), &json!(expiry_from_date(Some(SOON))))
    );
    h.gitlab.state.revoke_token("glpat-soon");
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/gitlab-token/check"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail(&h, id).await["token_status"], "rejected");

    // OAuth: valid while it refreshes; its 2-hour expiry is not shown.
    let oauth = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&oauth).await;
    assert_eq!(h.raw(Method::GET, &back, None, None).await.0, 303);
    let shown = detail(&h, &oauth).await;
    assert_eq!(
        (&shown["token_status"], &shown["token_expires_at"]),
        (&json!("valid"), &Value::Null)
    );
}

#[tokio::test]
async fn the_daily_check_publishes_token_expiring_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    h.gitlab.state.add_token(PAT, expiring_token());
    let expiring = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
    h.gitlab.state.add_token("glpat-other", FakeToken::live(&["api"]));
    let body = json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token", "access_token": "glpat-other"});
    let (status, healthy) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            OWNER,
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{healthy}");
    // The PAT expires soon again for the check (the stored token is PAT).
    h.gitlab.state.add_token(PAT, expiring_token());

    // The function's event: the scheduled-event document EventBridge sends.
    let path = format!("{}/../events/token-check.json", env!("CARGO_MANIFEST_DIR"));
    let event: aws_lambda_events::event::eventbridge::EventBridgeEvent =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("a scheduled event");
    assert_eq!(
        (event.source.as_str(), event.detail_type.as_str()),
        ("aws.events", "Scheduled Event")
    );
    let (bus, queue) = oore_gitlab_tests::bus_to_queue("Token Expiring").await;
    let events = shared::adapters::eventbridge::EventBridgeEvents::new(
        aws_sdk_eventbridge::Client::new(&oore_gitlab_tests::moto_sdk().await),
        bus,
    );
    let summary = shared::inbound::schedule::check_tokens(&h.app.services, &events)
        .await
        .unwrap();
    assert_eq!(
        summary,
        shared::app::token_expiry::CheckSummary {
            checked: 2,
            expiring: 1,
            failed: 0
        }
    );
    let published = oore_gitlab_tests::drain(&queue).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0]["detail-type"], "Token Expiring");
    let detail_of = &published[0]["detail"];
    assert_eq!(detail_of["integration_id"], json!(expiring));
    assert_eq!(detail_of["token_status"], "expiring");
    assert_eq!(detail_of["token_expires_at"], json!(expiry_from_date(Some(SOON))));
    assert_eq!(detail(&h, &expiring).await["token_status"], "expiring");
}

/// GitLab warns a project or group access token's hooks 7 days ahead (`object_kind:
/// access_token`): ours records it when it is the integration's token, and ignores others.
#[tokio::test]
async fn an_access_token_event_for_our_token_is_recorded() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let started = h.connect().await;
    let id = started["integration"]["id"].as_str().unwrap();
    let secret = started["webhook_secret"].as_str().unwrap();
    let (_, list) = h
        .call(Method::GET, &format!("/v1/integrations/{id}/repositories"), OWNER, None)
        .await;
    let project: u64 = list["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let warning = |token_id: u64, key: &str| {
        let body = oore_local::fake_gitlab::hooks::access_token_event(project, token_id, "2026-12-03");
        let headers = vec![
            ("x-gitlab-token".to_string(), secret.to_string()),
            ("x-gitlab-event".to_string(), "Resource Access Token Hook".to_string()),
            ("idempotency-key".to_string(), key.to_string()),
        ];
        (headers, body.to_string().into_bytes())
    };
    let (headers, body) = warning(7, "other-token");
    let (status, _, answer) = h.send(Method::POST, "/v1/webhooks/gitlab", &headers, Some(body)).await;
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")), "{answer}");
    assert_eq!(detail(&h, id).await["token_status"], "valid");

    let (headers, body) = warning(TOKEN_ID, "our-token");
    let (status, _, answer) = h.send(Method::POST, "/v1/webhooks/gitlab", &headers, Some(body)).await;
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("recorded")),
        "{answer}"
    );
    let shown = detail(&h, id).await;
    assert_eq!(
        (&shown["token_status"], &shown["token_expires_at"]),
        (&json!("expiring"), &json!(expiry_from_date(Some("2026-12-03"))))
    );
    assert!(expiry_from_date(Some("2026-12-03")).unwrap() > START_TIME);
}
