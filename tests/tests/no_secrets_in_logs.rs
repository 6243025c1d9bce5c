//! Tokens and secrets never reach a log line, whatever the request does. A binary of its own:
//! tracing decides per call site, process-wide, whether anyone listens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{FakeOptions, FakeToken, TokenState};
use serde_json::json;
use shared::inbound::http::auth::Role;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_requests_but_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    h.gitlab.state.add_token(
        "glpat-revoked-secret",
        FakeToken {
            state: TokenState::Revoked,
            ..FakeToken::live(&["api"])
        },
    );
    let started = h.connect().await;
    let id = started["integration"]["id"].as_str().unwrap().to_string();
    let webhook_secret = started["webhook_secret"].as_str().unwrap().to_string();
    let refused =
        json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token", "access_token": "glpat-revoked-secret"})
            .to_string();
    h.call(
        Method::POST,
        "/v1/integrations/gitlab/start",
        Some(Role::Owner),
        Some(&refused),
    )
    .await;
    h.call(
        Method::PUT,
        &format!("/v1/integrations/{id}/gitlab-token"),
        Some(Role::Owner),
        Some(r#"{"access_token":"glpat-revoked-secret"}"#),
    )
    .await;
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    h.call(
        Method::POST,
        &format!("/v1/integrations/{id}/installations"),
        Some(Role::Owner),
        Some("{}"),
    )
    .await;
    h.gitlab.state.failing.store(false, std::sync::atomic::Ordering::SeqCst);

    // Webhooks: a delivery, a refused one, a rotation and a registration leave no secret behind.
    let (_, repos) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories"),
            Some(Role::Owner),
            None,
        )
        .await;
    let repo = repos["repositories"][0]["id"].as_str().unwrap().to_string();
    let project = repos["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let push = json!({"object_kind": "push", "ref": "refs/heads/main", "after": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "checkout_sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "project": {"id": project}}).to_string();
    for token in [webhook_secret.as_str(), "oore_wrong-secret-value"] {
        let headers = [
            ("x-gitlab-token".to_string(), token.to_string()),
            ("x-gitlab-event".into(), "Push Hook".into()),
        ];
        h.send(
            Method::POST,
            "/v1/webhooks/gitlab",
            &headers,
            Some(push.clone().into_bytes()),
        )
        .await;
    }
    let (_, rotated) = h
        .call(
            Method::POST,
            &format!("/v1/integration-repositories/{repo}/gitlab-webhook-secret"),
            Some(Role::Owner),
            Some("{}"),
        )
        .await;
    let repo_secret = rotated["webhook_secret"].as_str().unwrap().to_string();
    let signing_key = rotated["webhook_signing_key"].as_str().unwrap().to_string();
    h.call(
        Method::POST,
        &format!("/v1/integration-repositories/{repo}/gitlab-webhook"),
        Some(Role::Owner),
        Some("{}"),
    )
    .await;
    let hook_token = h.gitlab.state.hooks(project)[0]["token"].as_str().unwrap().to_string();

    // OAuth: authorize, callback, a refresh, a refused replay, a delete that revokes.
    let oauth = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&oauth).await;
    let query: Vec<(String, String)> = url::Url::parse(&format!("https://x{back}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    let state = query.iter().find(|(k, _)| k == "state").unwrap().1.clone();
    h.raw(Method::GET, &back, None, None).await;
    h.raw(Method::GET, &back, None, None).await;
    let first_access = h.gitlab.state.oauth.access_tokens()[0].clone();
    h.gitlab.state.expire_token(&first_access);
    h.clock.0.fetch_add(7200, std::sync::atomic::Ordering::SeqCst);
    h.call(
        Method::POST,
        &format!("/v1/integrations/{oauth}/installations"),
        Some(Role::Owner),
        Some("{}"),
    )
    .await;
    let second_access = h.gitlab.state.oauth.access_tokens()[1].clone();
    h.call(
        Method::DELETE,
        &format!("/v1/integrations/{oauth}"),
        Some(Role::Owner),
        None,
    )
    .await;
    assert_eq!(
        h.gitlab.state.oauth.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the refresh happened"
    );

    let bearer = h.token(Role::Owner);
    h.call(
        Method::DELETE,
        &format!("/v1/integrations/{id}"),
        Some(Role::Owner),
        None,
    )
    .await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"route\":\"/v1/integrations/gitlab/start\""),
        "one line per request is logged:\n{logs}"
    );
    assert!(
        logs.contains("a page GitLab failed is taken up again"),
        "the GitLab outage is logged"
    );
    assert!(
        logs.contains("build triggered") && logs.contains("\"route\":\"/v1/webhooks/gitlab\",\"status\":401"),
        "webhook outcomes are logged:\n{logs}"
    );
    let secrets = [
        PAT,
        "glpat-revoked-secret",
        webhook_secret.as_str(),
        "oore_wrong-secret-value",
        &repo_secret,
        &signing_key,
        &hook_token,
        bearer.as_str(),
        oore_gitlab_tests::SIGNING_KEY,
        oore_gitlab_tests::CLIENT_SECRET,
        &code,
        &state,
        &first_access,
        &second_access,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
    }
}
