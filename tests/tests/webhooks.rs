//! Webhooks end to end through the receiver: every GitLab fixture with the headers GitLab sends,
//! exactly-once under concurrency on moto, secrets and their rotation, Standard Webhooks
//! signatures, strangers' input, unsynced repositories, hook registration and the delivery log.

use std::sync::Arc;

use async_trait::async_trait;
use http::Method;
use oore_gitlab_tests::{Backend, Harness, START_TIME};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use serde_json::{Value, json};
use shared::domain::delivery::DeliveryRecord;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::signature::sign;
use shared::domain::trigger::Trigger;
use shared::domain::webhook_keys::WebhookKey;
use shared::inbound::http::auth::Role;
use shared::ports::{Recorded, StoreError, WebhookStore};

/// The project every fixture is about.
const FIXTURE_PROJECT: u64 = 4861503;
const OWNER: Option<Role> = Some(Role::Owner);

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// The `X-Gitlab-Event` GitLab sends with each fixture.
fn event_header(name: &str) -> &'static str {
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
fn gitlab_headers(event: &str, token: &str) -> Vec<(String, String)> {
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
fn signed_headers(token: &str, id: &str, at: i64, signature: String) -> Vec<(String, String)> {
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
fn signing_key_of(started: &Value) -> Vec<u8> {
    use base64::Engine;
    let text = started["webhook_signing_key"].as_str().unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.strip_prefix("whsec_").unwrap())
        .unwrap()
}

async fn deliver(h: &Harness, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let (status, _, bytes) = h
        .send(Method::POST, "/v1/webhooks/gitlab", headers, Some(body.to_vec()))
        .await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A harness whose fake GitLab also holds the fixtures' project, connected; returns the start answer.
async fn connected(backend: Backend) -> (Harness, Value) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    h.gitlab.state.add_project(&fixture("push.json")["project"]);
    let started = h.connect().await;
    (h, started)
}

fn id_of(started: &Value) -> IntegrationId {
    started["integration"]["id"].as_str().unwrap().into()
}

fn secret_of(started: &Value) -> String {
    started["webhook_secret"].as_str().unwrap().to_string()
}

/// The stored repository of a GitLab project, as the listing shows it.
async fn stored_repository(h: &Harness, integration: &IntegrationId, project: u64) -> Value {
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

async fn repository_of(h: &Harness, integration: &IntegrationId, project: u64) -> String {
    stored_repository(h, integration, project).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What a triggered fixture builds: event, ref and commit.
type BuiltAs = (&'static str, &'static str, &'static str);

async fn every_fixture_has_its_outcome(backend: Backend) {
    let (h, started) = connected(backend).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    // (fixture, outcome, event, ref, sha)
    let expected: &[(&str, &str, Option<BuiltAs>)] = &[
        (
            "push.json",
            "triggered",
            Some(("push", "refs/heads/master", "2adc9465c4edfc33834e173fe89436a7cb899a1d")),
        ),
        (
            "push_merge.json",
            "triggered",
            Some(("push", "refs/heads/master", "78a76ee6b4992a6baf64c59fc4c44c7323d60438")),
        ),
        (
            "push_subgroup.json",
            "triggered",
            Some(("push", "refs/heads/master", "2adc9465c4edfc33834e173fe89436a7cb899a1d")),
        ),
        (
            "branch_create.json",
            "triggered",
            Some(("push", "refs/heads/feature", "c4c79227ed610f1151f05bbc5be33b4f340d39c8")),
        ),
        ("branch_delete.json", "ignored", None),
        (
            "tag_create.json",
            "triggered",
            Some((
                "tag_push",
                "refs/tags/v1.0.0",
                "2adc9465c4edfc33834e173fe89436a7cb899a1d",
            )),
        ),
        ("tag_delete.json", "ignored", None),
        (
            "pull_request_create.json",
            "triggered",
            Some((
                "merge_request",
                "refs/merge-requests/1/head",
                "c4c79227ed610f1151f05bbc5be33b4f340d39c8",
            )),
        ),
        (
            "pull_request_reopen.json",
            "triggered",
            Some((
                "merge_request",
                "refs/merge-requests/1/head",
                "c4c79227ed610f1151f05bbc5be33b4f340d39c8",
            )),
        ),
        ("pull_request_close.json", "ignored", None),
        ("pull_request_merge.json", "ignored", None),
        ("merge_request_comment_create.json", "ignored", None),
        ("pipeline_hook.json", "ignored", None),
        ("issue_create.json", "ignored", None),
    ];
    let mut triggered = Vec::new();
    for (name, outcome, build) in expected {
        let body = serde_json::to_vec(&fixture(name)).unwrap();
        let (status, answer) = deliver(&h, &gitlab_headers(event_header(name), &secret), &body).await;
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer["ok"], true, "{name}");
        assert_eq!(answer["outcome"], *outcome, "{name}: {answer}");
        if let Some(build) = build {
            triggered.push((answer["trigger_id"].as_str().unwrap().to_string(), *build, name));
        }
    }
    let triggers = h.triggers_of(&integration).await;
    assert_eq!(triggers.len(), triggered.len());
    let repository_id = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    // Every fixture is one project; the stored repository names it, whatever the payload says
    // (push_subgroup.json names another path).
    let stored_name = stored_repository(&h, &integration, FIXTURE_PROJECT).await["full_name"].clone();
    for (trigger_id, (event, git_ref, sha), fixture_name) in &triggered {
        assert!(
            triggers.iter().any(|t| &t.id == trigger_id),
            "each trigger answered is stored"
        );
        let (status, got) = h
            .call(Method::GET, &format!("/v1/build-triggers/{trigger_id}"), OWNER, None)
            .await;
        assert_eq!(status, 200, "{got}");
        let t = &got["trigger"];
        assert_eq!(
            (t["event"].as_str(), t["ref"].as_str(), t["sha"].as_str()),
            (Some(*event), Some(*git_ref), Some(*sha))
        );
        assert_eq!(t["repository_id"], repository_id.as_str());
        assert_eq!(t["status"], "queued");
        assert_eq!(
            t["full_name"], stored_name,
            "{fixture_name}: the stored name, never the payload's"
        );
        assert_eq!(t["actor"], "sytses");
        assert_eq!(t["created_at"], START_TIME);
    }
    let tag = triggers.iter().find(|t| t.git_ref == "refs/tags/v1.0.0").unwrap();
    assert_eq!(
        (tag.tag.as_deref(), tag.branch.as_deref()),
        (Some("v1.0.0"), None),
        "tags build, as the daemon never did"
    );
    let mr = triggers.iter().find(|t| t.merge_request.is_some()).unwrap();
    let mr_ref = mr.merge_request.as_ref().unwrap();
    assert_eq!(
        (mr.branch.as_deref(), mr_ref.iid, mr_ref.source_branch.as_str()),
        (Some("feature"), 1, "feature")
    );

    // The log holds every delivery with its outcome and reason; the detail shows the last one.
    let (status, log) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/deliveries?limit=100"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let entries = log["deliveries"].as_array().unwrap();
    assert_eq!(entries.len(), expected.len());
    let deleted = entries
        .iter()
        .find(|e| e["reason"] == "branch feature was deleted")
        .expect("branch deletion logged with its reason");
    assert_eq!(deleted["outcome"], "ignored");
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "pipeline" && e["reason"] == "pipeline events do not trigger builds")
    );
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{integration}"), OWNER, None)
        .await;
    assert_eq!(detail["last_webhook_at"], START_TIME);

    // A merge request update builds only with new commits; forks never; a Service Hook routes on object_kind.
    let mut update = fixture("pull_request_create.json");
    update["object_attributes"]["action"] = json!("update");
    let body = serde_json::to_vec(&update).unwrap();
    let (_, answer) = deliver(&h, &gitlab_headers("Merge Request Hook", &secret), &body).await;
    assert_eq!(answer["reason"], "merge request update without new commits");
    update["object_attributes"]["oldrev"] = json!("ffffffffffffffffffffffffffffffffffffffff");
    let (_, answer) = deliver(
        &h,
        &gitlab_headers("Merge Request Hook", &secret),
        &serde_json::to_vec(&update).unwrap(),
    )
    .await;
    assert_eq!(answer["outcome"], "triggered", "{answer}");
    let mut fork = fixture("pull_request_create.json");
    fork["object_attributes"]["source_project_id"] = json!(1);
    let (_, answer) = deliver(
        &h,
        &gitlab_headers("Merge Request Hook", &secret),
        &serde_json::to_vec(&fork).unwrap(),
    )
    .await;
    assert_eq!(answer["reason"], "merge requests from forks are not built");
    let (_, answer) = deliver(
        &h,
        &gitlab_headers("Service Hook", &secret),
        &serde_json::to_vec(&fixture("push.json")).unwrap(),
    )
    .await;
    assert_eq!(answer["outcome"], "triggered");
    assert_eq!(h.triggers_of(&integration).await.len(), triggered.len() + 2);

    // Deleting the integration takes keys, log and triggers; its secret stops working.
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{integration}"), OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert!(h.triggers_of(&integration).await.is_empty());
    let (status, answer) = deliver(
        &h,
        &gitlab_headers("Push Hook", &secret),
        &serde_json::to_vec(&fixture("push.json")).unwrap(),
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("invalid_token")));
}

#[tokio::test]
async fn every_fixture_has_its_outcome_in_memory() {
    every_fixture_has_its_outcome(Backend::Memory).await;
}

#[tokio::test]
async fn every_fixture_has_its_outcome_embedded() {
    every_fixture_has_its_outcome(Backend::Embedded).await;
}

#[tokio::test]
async fn every_fixture_has_its_outcome_on_moto() {
    every_fixture_has_its_outcome(Backend::Moto).await;
}

/// A delivery's headers as name and value.
type Headers = Vec<(String, String)>;

#[tokio::test]
async fn strangers_get_a_4xx_in_the_envelope() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let with = |token: &str| gitlab_headers("Push Hook", token);

    let huge = vec![b' '; shared::inbound::http::handlers::MAX_WEBHOOK_BODY + 1];
    // (what, headers, body, status, code)
    let cases: Vec<(&str, Headers, Vec<u8>, u16, &str)> = vec![
        ("over 1 MiB", with(&secret), huge, 413, "payload_too_large"),
        (
            "no token",
            gitlab_headers("Push Hook", "")
                .into_iter()
                .filter(|(n, _)| n != "x-gitlab-token")
                .collect(),
            push.clone(),
            401,
            "missing_token",
        ),
        ("blank token", with("  "), push.clone(), 401, "missing_token"),
        (
            "not JSON",
            with(&secret),
            b"event=push".to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "truncated JSON",
            with(&secret),
            push[..push.len() / 2].to_vec(),
            400,
            "invalid_payload",
        ),
        ("a JSON array", with(&secret), b"[1,2]".to_vec(), 400, "invalid_payload"),
        (
            "wrong token",
            with("oore_0000000000000000000000000000000000000000000000000000000000000000"),
            push.clone(),
            401,
            "invalid_token",
        ),
        (
            "huge token",
            with(&"x".repeat(8000)),
            push.clone(),
            401,
            "invalid_token",
        ),
        (
            "no event at all",
            gitlab_headers("", &secret)
                .into_iter()
                .filter(|(n, _)| n != "x-gitlab-event")
                .collect(),
            br#"{"project":{"id":4861503}}"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "push without ref",
            with(&secret),
            br#"{"object_kind":"push","project":{"id":4861503}}"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "push without project",
            with(&secret),
            br#"{"object_kind":"push","ref":"refs/heads/x","after":"abc"}"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "push with a string project id",
            with(&secret),
            br#"{"object_kind":"push","ref":"refs/heads/x","after":"abc","project":{"id":"x"}}"#.to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "merge request without attributes",
            with(&secret),
            br#"{"object_kind":"merge_request","project":{"id":4861503}}"#.to_vec(),
            400,
            "invalid_payload",
        ),
    ];
    for (what, headers, body, status, code) in cases {
        let (got, answer) = deliver(&h, &headers, &body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{what}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: the envelope has a message"
        );
        assert!(
            !answer.to_string().contains(&secret),
            "{what}: the secret is never echoed"
        );
    }
    // An event we do not build is accepted and logged; a huge Idempotency-Key is hashed, not refused.
    let (status, answer) = deliver(
        &h,
        &gitlab_headers("Emoji Hook", &secret),
        br#"{"object_kind":"emoji","project":{"id":4861503}}"#,
    )
    .await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    let mut headers = with(&secret);
    headers.retain(|(n, _)| n != "idempotency-key");
    headers.push(("idempotency-key".into(), "k".repeat(16_000)));
    let (status, answer) = deliver(&h, &headers, &push).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("triggered")));
    assert_eq!(
        h.triggers_of(&integration).await.len(),
        1,
        "only the last delivery built"
    );
}

#[tokio::test]
async fn duplicates_answer_200_and_build_once() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let headers = gitlab_headers("Push Hook", &secret);
    let (_, first) = deliver(&h, &headers, &push).await;
    assert_eq!(first["outcome"], "triggered");
    let (status, again) = deliver(&h, &headers, &push).await;
    assert_eq!((status, again), (200, json!({"ok": true, "duplicate": true})));
    // A resend keeps the Idempotency-Key but GitLab gives it a new event UUID: still a duplicate.
    let mut resend = headers.clone();
    resend.retain(|(n, _)| n != "x-gitlab-event-uuid");
    resend.push(("x-gitlab-event-uuid".into(), uuid::Uuid::new_v4().to_string()));
    assert_eq!(deliver(&h, &resend, &push).await.1["duplicate"], true);
    // Older GitLab sends neither key: the body's hash dedupes.
    let bare: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n != "idempotency-key" && n != "x-gitlab-event-uuid")
        .cloned()
        .collect();
    assert_eq!(deliver(&h, &bare, &push).await.1["outcome"], "triggered");
    assert_eq!(deliver(&h, &bare, &push).await.1["duplicate"], true);
    assert_eq!(h.triggers_of(&integration).await.len(), 2);
    let (_, log) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/deliveries"),
            OWNER,
            None,
        )
        .await;
    let outcomes: Vec<_> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 3);
}

#[tokio::test]
async fn a_hundred_concurrent_copies_make_one_trigger_on_moto() {
    a_hundred_concurrent_copies_make_one_trigger(Backend::Moto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_copies_make_one_trigger_embedded() {
    a_hundred_concurrent_copies_make_one_trigger(Backend::Embedded).await;
}

async fn a_hundred_concurrent_copies_make_one_trigger(backend: Backend) {
    let (h, started) = connected(backend).await;
    let integration = id_of(&started);
    let headers = gitlab_headers("Push Hook", &secret_of(&started));
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let h = Arc::new(h);
    let copies = (0..100).map(|_| {
        let (h, headers, push) = (h.clone(), headers.clone(), push.clone());
        tokio::spawn(async move { deliver(&h, &headers, &push).await })
    });
    let answers = futures::future::join_all(copies).await;
    let mut duplicates = 0;
    for answer in answers {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        if body["duplicate"] == true {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 99);
    assert_eq!(h.triggers_of(&integration).await.len(), 1);
}

#[tokio::test]
async fn repository_secrets_rotate_with_grace_and_refuse_siblings() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let repo = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let sibling = repository_of(&h, &integration, 1000).await;
    let path = format!("/v1/integration-repositories/{repo}/gitlab-webhook-secret");

    let (status, err) = h.call(Method::POST, &path, Some(Role::Developer), Some("{}")).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("permission_denied")));
    let (status, err) = h
        .call(
            Method::POST,
            "/v1/integration-repositories/nope/gitlab-webhook-secret",
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));

    let (status, first) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["repository_id"], repo.as_str());
    assert_eq!(first["rotated_at"], START_TIME);
    let first_secret = first["webhook_secret"].as_str().unwrap().to_string();
    assert!(first_secret.starts_with("oore_") && first_secret.len() == 69);
    assert!(first["webhook_signing_key"].as_str().unwrap().starts_with("whsec_"));

    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, _) = deliver(&h, &gitlab_headers("Push Hook", &first_secret), &push).await;
    assert_eq!(status, 200);
    // The repository's secret is refused for its sibling (project 1000), and the refusal is logged.
    let mut sibling_push = fixture("push.json");
    sibling_push["project"]["id"] = json!(1000);
    let (status, err) = deliver(
        &h,
        &gitlab_headers("Push Hook", &first_secret),
        &serde_json::to_vec(&sibling_push).unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_token")));
    let (_, log) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/deliveries?limit=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(log["deliveries"][0]["outcome"], "refused");
    assert_eq!(log["deliveries"][0]["repository_id"], sibling.as_str());

    // Rotating again: the previous secret works through the grace window, then stops.
    h.clock.0.store(START_TIME + 10, std::sync::atomic::Ordering::SeqCst);
    let (_, second) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(second["previous_valid_until"], START_TIME + 10 + 3600);
    let second_secret = second["webhook_secret"].as_str().unwrap().to_string();
    assert_ne!(first_secret, second_secret);
    for secret in [&first_secret, &second_secret] {
        assert_eq!(deliver(&h, &gitlab_headers("Push Hook", secret), &push).await.0, 200);
    }
    h.clock
        .0
        .store(START_TIME + 10 + 3600, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &first_secret), &push).await.0,
        401
    );
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &second_secret), &push).await.0,
        200
    );

    // Another integration's secret does not open this one's projects.
    let other = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let other_secret = secret_of(&other.connect().await);
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &other_secret), &push).await.0,
        401
    );
}

#[tokio::test]
async fn signed_deliveries_are_verified() {
    let (h, started) = connected(Backend::Memory).await;
    let secret = secret_of(&started);
    let key = signing_key_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let signed = |id: &str, at: i64, signature: String| signed_headers(&secret, id, at, signature);
    let (status, answer) = deliver(
        &h,
        &signed("msg_1", START_TIME - 30, sign("msg_1", START_TIME - 30, &push, &key)),
        &push,
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    let forged = sign("msg_2", START_TIME, &push, b"not the key");
    let (status, err) = deliver(&h, &signed("msg_2", START_TIME, forged), &push).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_signature")));
    let stale = START_TIME - 301;
    let (status, err) = deliver(&h, &signed("msg_3", stale, sign("msg_3", stale, &push, &key)), &push).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_signature")));
    let mut partial = gitlab_headers("Push Hook", &secret);
    partial.push(("webhook-signature".into(), sign("msg_4", START_TIME, &push, &key)));
    assert_eq!(deliver(&h, &partial, &push).await.0, 401);
    // The body signed is the body checked, byte for byte.
    let mut other = fixture("push.json");
    other["checkout_sha"] = json!("ffffffffffffffffffffffffffffffffffffffff");
    let (status, _) = deliver(
        &h,
        &signed("msg_5", START_TIME, sign("msg_5", START_TIME, &push, &key)),
        &serde_json::to_vec(&other).unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

async fn unsynced_repository_is_looked_up_once(backend: Backend) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let started = h.connect().await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    // The project appears at GitLab after the sync.
    h.gitlab.state.add_project(&fixture("push.json")["project"]);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    assert_eq!(
        h.gitlab.state.project_lookups.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let repo = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(h.triggers_of(&integration).await[0].repository_id, repo);
    assert_eq!(deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await.0, 200);
    assert_eq!(
        h.gitlab.state.project_lookups.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a known repository needs no lookup"
    );
    // A project the integration cannot see is refused, and nothing is built.
    let mut foreign = fixture("push.json");
    foreign["project"]["id"] = json!(777);
    let (status, err) = deliver(
        &h,
        &gitlab_headers("Push Hook", &secret),
        &serde_json::to_vec(&foreign).unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_token")));
    assert_eq!(h.triggers_of(&integration).await.len(), 2);
    // GitLab down during the lookup: 503, so the delivery can be resent.
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    foreign["project"]["id"] = json!(778);
    let (status, err) = deliver(
        &h,
        &gitlab_headers("Push Hook", &secret),
        &serde_json::to_vec(&foreign).unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (503, Some("gitlab_unavailable")));
}

#[tokio::test]
async fn unsynced_repository_is_looked_up_once_in_memory() {
    unsynced_repository_is_looked_up_once(Backend::Memory).await;
}

#[tokio::test]
async fn unsynced_repository_is_looked_up_once_on_moto() {
    unsynced_repository_is_looked_up_once(Backend::Moto).await;
}

#[tokio::test]
async fn hook_registration_creates_once_then_updates() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let repo = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let path = format!("/v1/integration-repositories/{repo}/gitlab-webhook");
    let (status, first) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["created"], true);
    assert!(
        first.get("webhook_secret").is_none(),
        "the secret goes to GitLab, not to the caller"
    );
    let hooks = h.gitlab.state.hooks(FIXTURE_PROJECT);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["url"], "https://oore.example.com/v1/webhooks/gitlab");
    assert_eq!(
        (
            hooks[0]["push_events"].clone(),
            hooks[0]["tag_push_events"].clone(),
            hooks[0]["merge_requests_events"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );
    let first_token = hooks[0]["token"].as_str().unwrap().to_string();
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &first_token), &push).await.1["outcome"],
        "triggered"
    );

    let (_, second) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(
        (second["created"].clone(), second["hook_id"].clone()),
        (json!(false), first["hook_id"].clone())
    );
    let hooks = h.gitlab.state.hooks(FIXTURE_PROJECT);
    assert_eq!(hooks.len(), 1, "a second call updates the same hook");
    let second_token = hooks[0]["token"].as_str().unwrap();
    assert_ne!(second_token, first_token);
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", second_token), &push).await.0,
        200
    );

    // A token without the api scope cannot manage hooks: a clear 400, and the hook is untouched.
    h.gitlab.state.add_token(
        oore_gitlab_tests::PAT,
        FakeToken::live(&["read_api", "read_repository"]),
    );
    let (status, err) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("gitlab_scope_missing")));
    assert_eq!(
        h.gitlab.state.hooks(FIXTURE_PROJECT)[0]["token"].as_str().unwrap(),
        second_token
    );
}

#[tokio::test]
async fn the_delivery_log_pages_and_keeps_to_its_readers() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    for i in 0..5 {
        h.clock.0.store(START_TIME + i, std::sync::atomic::Ordering::SeqCst);
        deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    }
    let path = format!("/v1/integrations/{integration}/deliveries");
    let (status, page) = h
        .call(Method::GET, &format!("{path}?limit=2"), Some(Role::Developer), None)
        .await;
    assert_eq!(status, 200);
    let times: Vec<_> = page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["received_at"].as_i64().unwrap())
        .collect();
    assert_eq!(times, vec![START_TIME + 4, START_TIME + 3]);
    let cursor = page["next_cursor"].as_str().unwrap();
    // Opaque and URL-safe: a client that does not URL-encode it sends it back intact.
    assert!(
        cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{cursor}"
    );
    let (_, rest) = h
        .call(
            Method::GET,
            &format!("{path}?limit=10&cursor={cursor}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(rest["deliveries"].as_array().unwrap().len(), 3);
    assert_eq!(rest["next_cursor"], Value::Null);
    let (status, err) = h.call(Method::GET, &path, Some(Role::QaViewer), None).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("permission_denied")));
    let (status, err) = h
        .call(Method::GET, &format!("{path}?cursor=garbage"), OWNER, None)
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")));
    let (status, _) = h.call(Method::GET, &format!("{path}?limit=0"), OWNER, None).await;
    assert_eq!(status, 400);
    let (status, _) = h
        .call(Method::GET, "/v1/integrations/nope/deliveries", OWNER, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_warm_delivery_costs_two_dynamodb_calls_and_no_secrets_manager_call() {
    let (h, started) = connected(Backend::Moto).await;
    h.sync_settled(started["integration"]["id"].as_str().unwrap()).await;
    let secret = secret_of(&started);
    let key = signing_key_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let signed = |id: &str| signed_headers(&secret, id, START_TIME, sign(id, START_TIME, &push, &key));
    // Warm the container: the first signed delivery reads the master key once.
    assert_eq!(deliver(&h, &signed("warm-up"), &push).await.0, 200);
    let counter = h.aws_calls.as_ref().unwrap();
    let before = counter.snapshot();
    let (status, answer) = deliver(&h, &signed("measured"), &push).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("triggered")));
    let spent = counter.snapshot() - before;
    assert_eq!((spent.dynamodb, spent.secrets_manager), (2, 0));
}

/// Every delivery write fails, as a DynamoDB outage would.
struct BrokenDeliveries(Arc<dyn WebhookStore>);

#[async_trait]
impl WebhookStore for BrokenDeliveries {
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError> {
        self.0.find_webhook_key(digest).await
    }
    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError> {
        self.0.webhook_keys(integration_id, project_id).await
    }
    async fn rotate_webhook_key(&self, new: &WebhookKey, until: i64, now: i64) -> Result<(), StoreError> {
        self.0.rotate_webhook_key(new, until, now).await
    }
    async fn set_signature_requirement(&self, id: &IntegrationId, required: bool) -> Result<(), StoreError> {
        self.0.set_signature_requirement(id, required).await
    }
    async fn record_delivery(
        &self,
        _: &DeliveryRecord,
        _: Option<&Trigger>,
        _: Option<ProjectId>,
    ) -> Result<Recorded, StoreError> {
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn log_delivery(&self, _: &DeliveryRecord) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn list_deliveries(
        &self,
        id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        self.0.list_deliveries(id, limit, cursor).await
    }
}

#[tokio::test]
async fn a_store_failure_answers_503_and_a_resend_then_builds() {
    let (mut h, started) = connected(Backend::Moto).await;
    let integration = id_of(&started);
    let working = h.app.services.webhooks.clone();
    h.app.services.webhooks = Arc::new(BrokenDeliveries(working.clone()));
    let headers = gitlab_headers("Push Hook", &secret_of(&started));
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, err) = deliver(&h, &headers, &push).await;
    assert_eq!((status, err["code"].as_str()), (503, Some("storage_unavailable")));
    assert!(h.triggers_of(&integration).await.is_empty());
    assert!(
        working
            .list_deliveries(&integration, 10, None)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    h.app.services.webhooks = working.clone();
    let (status, answer) = deliver(&h, &headers, &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "GitLab's resend is not taken for a duplicate"
    );
    assert_eq!(h.triggers_of(&integration).await.len(), 1);
}

/// The integration-wide secret (shown once, at connect) can be replaced, with the old one kept
/// for a grace window, or revoked at once; its new signing key signs deliveries.
#[tokio::test]
async fn the_integration_secret_rotates_with_a_grace_or_at_once() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let first = secret_of(&started);
    let path = format!("/v1/integrations/{integration}/gitlab-webhook-secret");
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();

    let (status, err) = h.call(Method::POST, &path, Some(Role::Developer), Some("{}")).await;
    assert_eq!((status, err["code"].as_str()), (403, Some("permission_denied")));
    for bad in [r#"{"grace_seconds": -1}"#, r#"{"grace_seconds": 604801}"#] {
        let (status, err) = h.call(Method::POST, &path, OWNER, Some(bad)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_input")),
            "{bad}: {err}"
        );
    }
    let (status, err) = h.call(Method::POST, &path, OWNER, Some(r#"{"grace": 5}"#)).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")), "{err}");

    let (status, second) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_valid_until"], json!(START_TIME + 3600));
    let second_secret = second["webhook_secret"].as_str().unwrap().to_string();
    assert!(second_secret.starts_with("oore_") && second_secret != first);
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &first), &push).await;
    assert_eq!(status, 200, "the old secret works through the grace window: {answer}");
    let key = signing_key_of(&second);
    let id = "msg_rotated";
    let (status, answer) = deliver(
        &h,
        &signed_headers(&second_secret, id, START_TIME, sign(id, START_TIME, &push, &key)),
        &push,
    )
    .await;
    assert_eq!(status, 200, "the new signing key signs: {answer}");

    let (status, third) = h
        .call(Method::POST, &path, OWNER, Some(r#"{"grace_seconds": 0}"#))
        .await;
    assert_eq!(
        (status, third["previous_valid_until"].as_i64()),
        (200, Some(START_TIME))
    );
    let (status, err) = deliver(&h, &gitlab_headers("Push Hook", &second_secret), &push).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("invalid_token")),
        "revoked at once"
    );
    let third_secret = third["webhook_secret"].as_str().unwrap();
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", third_secret), &push).await.0,
        200
    );
    let (status, _) = h
        .call(
            Method::POST,
            "/v1/integrations/missing/gitlab-webhook-secret",
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 404);
}

/// A signed delivery is the same delivery whatever `Idempotency-Key` a replay carries: its
/// `webhook-id` is covered by the signature, so it is the dedupe key.
#[tokio::test]
async fn a_signed_replay_under_a_new_idempotency_key_builds_once() {
    let (h, started) = connected(Backend::Memory).await;
    let secret = secret_of(&started);
    let key = signing_key_of(&started);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let id = "msg_replayed";
    let signature = sign(id, START_TIME, &push, &key);
    let first = signed_headers(&secret, id, START_TIME, signature.clone());
    let (status, answer) = deliver(&h, &first, &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    let mut replay = signed_headers(&secret, id, START_TIME, signature);
    for (name, value) in replay.iter_mut() {
        if name == "idempotency-key" || name == "x-gitlab-event-uuid" {
            *value = uuid::Uuid::new_v4().to_string();
        }
    }
    let (status, answer) = deliver(&h, &replay, &push).await;
    assert_eq!((status, answer["duplicate"].as_bool()), (200, Some(true)), "{answer}");
    assert_eq!(h.triggers_of(&id_of(&started)).await.len(), 1);
}

/// Delivery keys are chosen by the sender: one repository's secret holder must not be able to
/// claim the key another project's delivery will carry and so suppress its build.
#[tokio::test]
async fn a_dedupe_key_claimed_for_one_project_does_not_suppress_another() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let (_, list) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/repositories?limit=100"),
            OWNER,
            None,
        )
        .await;
    let repositories = list["repositories"].as_array().unwrap();
    let other_project: u64 = repositories
        .iter()
        .map(|r| r["external_id"].as_str().unwrap().parse::<u64>().unwrap())
        .find(|p| *p != FIXTURE_PROJECT)
        .expect("a second project");
    let fixture_repository = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let (_, rotated) = h
        .call(
            Method::POST,
            &format!("/v1/integration-repositories/{fixture_repository}/gitlab-webhook-secret"),
            OWNER,
            Some("{}"),
        )
        .await;
    let repository_secret = rotated["webhook_secret"].as_str().unwrap();
    let claimed_key = "idempotency-key-of-the-other-project";
    let with_key = |token: &str| {
        let mut headers = gitlab_headers("Push Hook", token);
        for (name, value) in headers.iter_mut() {
            if name == "idempotency-key" {
                *value = claimed_key.into();
            }
        }
        headers
    };
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, answer) = deliver(&h, &with_key(repository_secret), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    let mut other = fixture("push.json");
    other["project"]["id"] = json!(other_project);
    other["project_id"] = json!(other_project);
    let (status, answer) = deliver(
        &h,
        &with_key(&secret_of(&started)),
        &serde_json::to_vec(&other).unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "the other project's delivery builds: {answer}"
    );
}

/// Once GitLab signs an integration's hooks, the integration can refuse unsigned deliveries.
#[tokio::test]
async fn an_integration_can_require_signed_deliveries() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let key = signing_key_of(&started);
    let path = format!("/v1/integrations/{integration}");
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();

    let (status, err) = h
        .call(
            Method::PATCH,
            &path,
            Some(Role::Developer),
            Some(r#"{"require_webhook_signature": true}"#),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (403, Some("permission_denied")));
    let (status, err) = h.call(Method::PATCH, &path, OWNER, Some("{}")).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_input")), "{err}");
    let (status, err) = h
        .call(
            Method::PATCH,
            &path,
            OWNER,
            Some(r#"{"require_webhook_signature": "yes"}"#),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")), "{err}");

    let (status, answer) = h
        .call(
            Method::PATCH,
            &path,
            OWNER,
            Some(r#"{"require_webhook_signature": true}"#),
        )
        .await;
    assert_eq!(
        (status, answer["require_webhook_signature"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let (_, detail) = h.call(Method::GET, &path, OWNER, None).await;
    assert_eq!(detail["require_webhook_signature"], true);
    let (status, err) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("signature_required")),
        "{err}"
    );
    let id = "msg_required";
    let (status, answer) = deliver(
        &h,
        &signed_headers(&secret, id, START_TIME, sign(id, START_TIME, &push, &key)),
        &push,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // A secret issued after the change carries it too.
    let repository = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let (_, rotated) = h
        .call(
            Method::POST,
            &format!("/v1/integration-repositories/{repository}/gitlab-webhook-secret"),
            OWNER,
            Some("{}"),
        )
        .await;
    let repository_secret = rotated["webhook_secret"].as_str().unwrap();
    let (status, err) = deliver(&h, &gitlab_headers("Push Hook", repository_secret), &push).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("signature_required")));

    let (status, _) = h
        .call(
            Method::PATCH,
            &path,
            OWNER,
            Some(r#"{"require_webhook_signature": false}"#),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(status, 200, "unsigned deliveries are accepted again: {answer}");
}

/// Archived projects are listed (`archived: true`) and never build; a renamed or transferred
/// project keeps its repository and takes its new name at the next sync; a project that vanished
/// loses the record of the hook we registered on it.
#[tokio::test]
async fn projects_that_change_at_gitlab() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let before = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/integration-repositories/{before}/gitlab-webhook"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200);
    let hooks = h.app.services.hooks.list_hooks(&integration).await.unwrap();
    assert_eq!(hooks.len(), 1);

    h.gitlab.state.modify_project(FIXTURE_PROJECT, |p| {
        p["archived"] = json!(true);
        p["path_with_namespace"] = json!("new-group/renamed");
    });
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["id"], json!(before), "the same repository");
    assert_eq!(listed["full_name"], "new-group/renamed");
    assert_eq!(listed["archived"], true);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str(), answer["reason"].as_str()),
        (200, Some("ignored"), Some("archived projects do not build")),
        "{answer}"
    );
    assert!(h.triggers_of(&integration).await.is_empty());

    // Gone from GitLab: the repository and its hook record go with the next complete pass.
    h.gitlab.state.remove_projects(&[FIXTURE_PROJECT]);
    h.sync_and_settle(integration.as_str()).await;
    assert!(h.app.services.hooks.list_hooks(&integration).await.unwrap().is_empty());
}

/// The hook we registered shows its health in the listing, refreshed by a sync and by
/// registering again, which re-enables a hook GitLab disabled.
async fn hook_health_is_shown_and_a_disabled_hook_reenabled(backend: Backend) {
    let (h, started) = connected(backend).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let repository = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let register = format!("/v1/integration-repositories/{repository}/gitlab-webhook");
    let others: Vec<Value> = {
        let (_, list) = h
            .call(
                Method::GET,
                &format!("/v1/integrations/{integration}/repositories?limit=100"),
                OWNER,
                None,
            )
            .await;
        list["repositories"].as_array().unwrap().clone()
    };
    assert!(
        others.iter().all(|r| r.get("webhook") == Some(&Value::Null)),
        "no hook registered yet: {others:?}"
    );

    let (status, registered) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, registered["alert_status"].as_str()),
        (200, Some("executable")),
        "{registered}"
    );
    let hook_id = registered["hook_id"].as_u64().unwrap();
    let hook = &h.gitlab.state.hooks(FIXTURE_PROJECT)[0];
    assert_eq!(
        hook["resource_access_token_events"], true,
        "subscribed to token expiry events"
    );
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(
        listed["webhook"],
        json!({"hook_id": hook_id, "alert_status": "executable", "disabled_until": null, "last_delivery_at": null})
    );
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    assert_eq!(deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await.0, 200);
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"]["last_delivery_at"], START_TIME);

    // GitLab disables it after failed deliveries; the next sync shows it.
    let until = "2026-11-27T12:00:00.000Z";
    oore_local::fake_gitlab::hooks::set_hook_alert(
        &h.gitlab.state,
        FIXTURE_PROJECT,
        hook_id,
        "temporarily_disabled",
        Some(until),
    );
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(
        (&listed["webhook"]["alert_status"], &listed["webhook"]["disabled_until"]),
        (&json!("temporarily_disabled"), &json!(until))
    );

    // Registering again tests the hook: a test GitLab's delivery fails leaves it disabled…
    oore_local::fake_gitlab::hooks::set_hook_alert(&h.gitlab.state, FIXTURE_PROJECT, hook_id, "disabled", None);
    h.gitlab
        .state
        .hook_test_answer
        .store(500, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, answer["alert_status"].as_str()),
        (200, Some("disabled")),
        "{answer}"
    );
    // …one our service answers 2xx re-enables it.
    h.gitlab
        .state
        .hook_test_answer
        .store(200, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, answer["alert_status"].as_str()),
        (200, Some("executable")),
        "{answer}"
    );
    assert_eq!(answer["hook_id"], hook_id, "the same hook, not a second one");
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"]["alert_status"], "executable");

    // Someone deleted our hook at GitLab: the next sync forgets it.
    h.gitlab.state.hooks_clear(FIXTURE_PROJECT);
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"], Value::Null);
}

#[tokio::test]
async fn hook_health_in_memory() {
    hook_health_is_shown_and_a_disabled_hook_reenabled(Backend::Memory).await;
}

#[tokio::test]
async fn hook_health_embedded() {
    hook_health_is_shown_and_a_disabled_hook_reenabled(Backend::Embedded).await;
}

#[tokio::test]
async fn hook_health_on_moto() {
    hook_health_is_shown_and_a_disabled_hook_reenabled(Backend::Moto).await;
}
