//! Webhooks end to end through the receiver, by area: receipt (every GitLab fixture, strangers,
//! duplicates, exactly-once under concurrency, the delivery log, store failures), secrets
//! (rotation, Standard Webhooks signatures, dedupe keys), the order of the checks, the draft
//! rules, project hooks (registration, health, unsynced and changed projects) and group hooks
//! (registration, health, deliveries). The helpers here send deliveries as GitLab does.

mod check_order;
mod drafts;
mod group_deliveries;
mod group_hooks;
mod project_hooks;
mod receipt;
mod secrets;

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::Value;
use shared::domain::ids::IntegrationId;
use shared::inbound::http::auth::Role;

/// The project every fixture is about.
pub(crate) const FIXTURE_PROJECT: u64 = 4861503;

pub(crate) const OWNER: Option<Role> = Some(Role::Owner);

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// The `X-Gitlab-Event` GitLab sends with each fixture.
pub(crate) fn event_header(name: &str) -> &'static str {
    match name {
        n if n.starts_with("tag_") => "Tag Push Hook",
        n if n.starts_with("push") || n.starts_with("branch_") => "Push Hook",
        n if n.starts_with("pull_request_") => "Merge Request Hook",
        "merge_request_comment_create.json" => "Note Hook",
        "pipeline_hook.json" => "Pipeline Hook",
        "issue_create.json" => "Issue Hook",
        other => panic!("no header known for {other}"),
    }
}

/// GitLab's headers for one delivery: a fresh event UUID that is also the Idempotency-Key.
pub(crate) fn gitlab_headers(event: &str, token: &str) -> Vec<(String, String)> {
    let uuid = uuid::Uuid::new_v4().to_string();
    vec![
        ("content-type".into(), "application/json".into()),
        ("user-agent".into(), "GitLab/17.5.0".into()),
        ("x-gitlab-event".into(), event.into()),
        ("x-gitlab-token".into(), token.into()),
        ("x-gitlab-event-uuid".into(), uuid.clone()),
        ("idempotency-key".into(), uuid),
        ("x-gitlab-instance".into(), "https://gitlab.com".into()),
    ]
}

/// GitLab's headers for a delivery signed the Standard Webhooks way (`webhook-id` is also the
/// Idempotency-Key, as GitLab sends it).
pub(crate) fn signed_headers(token: &str, id: &str, at: i64, signature: String) -> Vec<(String, String)> {
    let mut headers = gitlab_headers("Push Hook", token);
    headers.retain(|(n, _)| n != "idempotency-key");
    headers.extend([
        ("idempotency-key".to_string(), id.to_string()),
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), at.to_string()),
        ("webhook-signature".into(), signature),
    ]);
    headers
}

/// The signing key bytes of the `whsec_…` key a connect answer showed.
pub(crate) fn signing_key_of(started: &Value) -> Vec<u8> {
    use base64::Engine;
    let text = started["webhook_signing_key"].as_str().unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.strip_prefix("whsec_").unwrap())
        .unwrap()
}

pub(crate) async fn deliver(h: &Harness, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let (status, _, bytes) = h
        .send(Method::POST, "/v1/webhooks/gitlab", headers, Some(body.to_vec()))
        .await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A harness whose fake GitLab also holds the fixtures' project, connected; returns the start answer.
pub(crate) async fn connected(backend: Backend) -> (Harness, Value) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    h.gitlab.state.add_project(&fixture("push.json")["project"]);
    let started = h.connect().await;
    (h, started)
}

pub(crate) fn id_of(started: &Value) -> IntegrationId {
    started["integration"]["id"].as_str().unwrap().into()
}

pub(crate) fn secret_of(started: &Value) -> String {
    started["webhook_secret"].as_str().unwrap().to_string()
}

/// The stored repository of a GitLab project, as the listing shows it.
pub(crate) async fn stored_repository(h: &Harness, integration: &IntegrationId, project: u64) -> Value {
    let (_, list) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/repositories?limit=100"),
            OWNER,
            None,
        )
        .await;
    list["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["external_id"].as_str() == Some(project.to_string().as_str()))
        .unwrap_or_else(|| panic!("project {project} not in {list}"))
        .clone()
}

pub(crate) async fn repository_of(h: &Harness, integration: &IntegrationId, project: u64) -> String {
    stored_repository(h, integration, project).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}
