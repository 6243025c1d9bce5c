//! Receiving deliveries: every GitLab fixture with its outcome, strangers refused in the envelope,
//! duplicates built once (also 100 at a time), the delivery log, and store failures survived.

use crate::webhooks::{
    FIXTURE_PROJECT, OWNER, connected, deliver, event_header, fixture, gitlab_headers, id_of, repository_of, secret_of,
    signed_headers, signing_key_of, stored_repository,
};
use async_trait::async_trait;
use http::Method;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::{Backend, START_TIME};
use serde_json::{Value, json};
use shared::domain::delivery::DeliveryRecord;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::signature::sign;
use shared::domain::trigger::Trigger;
use shared::domain::webhook_keys::WebhookKey;
use shared::inbound::http::auth::Role;
use shared::ports::{Recorded, StoreError, WebhookStore};
use std::sync::Arc;

/// What a triggered fixture builds: event, ref and commit.
type BuiltAs = (&'static str, &'static str, &'static str);

async fn every_fixture_has_its_outcome(backend: Backend) {
    let (h, started) = connected(backend).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    // (fixture, outcome, event, ref, sha)
    // A fixture that builds what an earlier one built (same project, event, ref and commit) is
    // that build's duplicate: push.json repeats push_subgroup.json's push, and the merge request
    // reopened at the commit it was opened with repeats its opening.
    let expected: &[(&str, &str, Option<BuiltAs>)] = &[
        (
            "push_subgroup.json",
            "triggered",
            Some(("push", "refs/heads/master", "2adc9465c4edfc33834e173fe89436a7cb899a1d")),
        ),
        (
            "push.json",
            "duplicate",
            Some(("push", "refs/heads/master", "2adc9465c4edfc33834e173fe89436a7cb899a1d")),
        ),
        (
            "push_merge.json",
            "triggered",
            Some(("push", "refs/heads/master", "78a76ee6b4992a6baf64c59fc4c44c7323d60438")),
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
            "duplicate",
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
        if *outcome == "duplicate" {
            assert_eq!(answer["duplicate"], true, "{name}: {answer}");
            continue;
        }
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
    update["object_attributes"]["last_commit"]["id"] = json!("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
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
    assert_eq!(
        answer["reason"], "a merge request from a fork waits for a member's /oore build",
        "its author is no member of the target project"
    );
    let mut service_push = fixture("push.json");
    service_push["after"] = json!("dddddddddddddddddddddddddddddddddddddddd");
    service_push["checkout_sha"] = service_push["after"].clone();
    let (_, answer) = deliver(
        &h,
        &gitlab_headers("Service Hook", &secret),
        &serde_json::to_vec(&service_push).unwrap(),
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

on_backends!(app every_fixture_has_its_outcome: memory, embedded, moto);

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
    assert_eq!(deliver(&h, &bare, &push).await.1["duplicate"], true);
    // Another delivery key (another hook) for the same push is the same build.
    let mut other_hook = headers.clone();
    other_hook.retain(|(n, _)| n != "idempotency-key");
    other_hook.push(("idempotency-key".into(), "another-hook".into()));
    assert_eq!(deliver(&h, &other_hook, &push).await.1["duplicate"], true);
    // A payload that needs its body hash to dedupe: a new commit builds, its resend does not.
    let mut next_commit = fixture("push.json");
    next_commit["after"] = json!("1111111111111111111111111111111111111111");
    next_commit["checkout_sha"] = json!("1111111111111111111111111111111111111111");
    let next_commit = serde_json::to_vec(&next_commit).unwrap();
    assert_eq!(deliver(&h, &bare, &next_commit).await.1["outcome"], "triggered");
    assert_eq!(deliver(&h, &bare, &next_commit).await.1["duplicate"], true);
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
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 5);
}

on_backends!(app a_hundred_concurrent_copies_make_one_trigger: moto, embedded(multi_thread));

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
async fn a_warm_delivery_costs_five_dynamodb_calls_and_no_secrets_manager_call_on_moto() {
    let (h, started) = connected(Backend::Moto).await;
    h.sync_settled(started["integration"]["id"].as_str().unwrap()).await;
    let secret = secret_of(&started);
    let key = signing_key_of(&started);
    let push_of = |commit: &str| {
        let mut push = fixture("push.json");
        push["after"] = json!(commit);
        push["checkout_sha"] = json!(commit);
        serde_json::to_vec(&push).unwrap()
    };
    let signed = |id: &str, body: &[u8]| signed_headers(&secret, id, START_TIME, sign(id, START_TIME, body, &key));
    // Warm the container: the first signed delivery reads the master key once.
    let warm_up = push_of("1111111111111111111111111111111111111111");
    assert_eq!(deliver(&h, &signed("warm-up", &warm_up), &warm_up).await.0, 200);
    let counter = h.aws_calls.as_ref().unwrap();
    let (before, units_before) = (counter.snapshot(), counter.capacity().snapshot());
    let measured = push_of("2222222222222222222222222222222222222222");
    let (status, answer) = deliver(&h, &signed("measured", &measured), &measured).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("triggered")));
    let spent = counter.snapshot() - before;
    // The key found through its index and read; the repository and the hook record read; the
    // delivery's one item written (the hook record's time was noted by the first delivery of
    // the hour).
    assert_eq!((spent.dynamodb, spent.secrets_manager), (5, 0));
    // Its cost by DynamoDB's sizing rules: the item and its two index entries; half a read for
    // the index lookup and for the hook record, one each for the key and the repository.
    let units = counter.capacity().snapshot() - units_before;
    assert_eq!((units.write, units.read), (3.0, 3.0));
    // A resend is refused by the item's condition: one write unit, and one more for its log.
    let units_before = counter.capacity().snapshot();
    let (_, answer) = deliver(&h, &signed("measured", &measured), &measured).await;
    assert_eq!(answer["duplicate"], true);
    let units = counter.capacity().snapshot() - units_before;
    assert_eq!((units.write, units.read), (2.0, 3.0));
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
    async fn record_delivery(&self, _: &DeliveryRecord, _: Option<&Trigger>) -> Result<Recorded, StoreError> {
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
async fn a_store_failure_answers_503_and_a_resend_then_builds_on_moto() {
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
