//! Webhook secrets: per-repository and integration-wide rotation with a grace window, Standard
//! Webhooks signatures (required or not, replays), and dedupe keys one secret holder cannot claim.

use crate::webhooks::{
    FIXTURE_PROJECT, OWNER, connected, deliver, fixture, gitlab_headers, id_of, repository_of, secret_of,
    signed_headers, signing_key_of,
};
use http::Method;
use oore_gitlab_tests::{Backend, START_TIME, on_backends};
use serde_json::json;
use shared::domain::signature::sign;
use shared::inbound::http::auth::Role;

async fn repository_secrets_rotate_with_grace_and_refuse_siblings(backend: Backend) {
    let (h, started) = connected(backend).await;
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

    // Another integration over the same GitLab: its secret opens that integration only. The
    // delivery is recorded under it, and this integration's log does not change.
    let newest = |id: String| {
        let h = &h;
        async move {
            let path = format!("/v1/integrations/{id}/deliveries?limit=1");
            h.call(Method::GET, &path, OWNER, None).await.1["deliveries"][0].clone()
        }
    };
    let before = newest(integration.to_string()).await;
    let other = h.connect().await;
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret_of(&other)), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    assert_eq!(newest(integration.to_string()).await, before, "nothing recorded here");
    let recorded = newest(id_of(&other).to_string()).await;
    assert_eq!(
        recorded["trigger_id"], answer["trigger_id"],
        "recorded under the other integration"
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

/// The integration-wide secret (shown once, at connect) can be replaced, with the old one kept
/// for a grace window, or revoked at once; its new signing key signs deliveries.
async fn the_integration_secret_rotates_with_a_grace_or_at_once(backend: Backend) {
    let (h, started) = connected(backend).await;
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
    // Grace 0 leaves no older secret working: the one replaced now, nor the first, whose grace
    // window was still open.
    for (older, which) in [(&second_secret, "the one replaced"), (&first, "one still in its grace")] {
        let (status, err) = deliver(&h, &gitlab_headers("Push Hook", older), &push).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (401, Some("invalid_token")),
            "{which} is revoked at once"
        );
    }
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
async fn a_dedupe_key_claimed_for_one_project_does_not_suppress_another(backend: Backend) {
    let (h, started) = connected(backend).await;
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
async fn an_integration_can_require_signed_deliveries(backend: Backend) {
    let (h, started) = connected(backend).await;
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

on_backends!(app repository_secrets_rotate_with_grace_and_refuse_siblings: memory, embedded, moto);
on_backends!(app the_integration_secret_rotates_with_a_grace_or_at_once: memory, embedded, moto);
on_backends!(app a_dedupe_key_claimed_for_one_project_does_not_suppress_another: memory, embedded, moto);
on_backends!(app an_integration_can_require_signed_deliveries: memory, embedded, moto);
