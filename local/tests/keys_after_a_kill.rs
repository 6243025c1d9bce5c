//! What the runner made once and keeps sealed in its vault outlives a SIGKILL: a `whsec_`
//! signing key shown at connect still verifies signed deliveries after the restart, and an
//! OAuth authorization started before the kill completes after it (its pending state and PKCE
//! verifier come back from the store).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use support::{Runner, fake_gitlab, push_fixture};

async fn post(http: &reqwest::Client, runner: &Runner, path: &str, body: Value) -> Value {
    let response = http
        .post(format!("{}{path}", runner.base))
        .bearer_auth(&runner.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "POST {path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn signing_keys_and_pending_authorizations_outlive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions::default()).await;
    // No pooled connections: the runner at the same address is a new process after the kill.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let runner = Runner::start(dir.path());
    let base = runner.base.clone();

    // A token integration, its signing key shown once.
    let started = post(
        &http,
        &runner,
        "/v1/integrations/gitlab/start",
        json!({"host_url": gitlab.base_url, "auth_mode": "personal_token", "access_token": support::PAT}),
    )
    .await;
    let secret = started["webhook_secret"].as_str().unwrap().to_string();
    let signing_key = base64::engine::general_purpose::STANDARD
        .decode(
            started["webhook_signing_key"]
                .as_str()
                .unwrap()
                .strip_prefix("whsec_")
                .unwrap(),
        )
        .unwrap();

    // An OAuth integration whose authorization is under way at GitLab.
    let callback = format!("{base}/v1/integrations/gitlab/callback");
    gitlab.state.oauth.add_app("kill-app", "kill-app-secret", &callback);
    let oauth = post(
        &http,
        &runner,
        "/v1/integrations/gitlab/start",
        json!({"host_url": gitlab.base_url, "auth_mode": "oauth_app", "client_id": "kill-app", "client_secret": "kill-app-secret"}),
    )
    .await;
    let oauth_id = oauth["integration"]["id"].as_str().unwrap().to_string();
    let authorize = post(
        &http,
        &runner,
        "/v1/integrations/gitlab/authorize",
        json!({"integration_id": oauth_id, "redirect_url": format!("{base}/settings")}),
    )
    .await;
    let at_gitlab = http
        .get(authorize["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_gitlab.status(), 302);
    let back = at_gitlab.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(&callback), "{back}");

    // Killed, and started again on the same folder and address (GitLab's redirect names it).
    runner.kill();
    let listen = base.trim_start_matches("http://").to_string();
    let runner = Runner::start_with(dir.path(), &[("OORE_LISTEN", listen.as_str())]);

    // The signed delivery verifies with the key shown before the kill.
    let body = serde_json::to_vec(&push_fixture()).unwrap();
    let (id, at) = ("msg_after_the_kill", unix_now());
    let signature = shared::domain::signature::sign(id, at, &body, &signing_key);
    let answer = http
        .post(format!("{base}/v1/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Push Hook")
        .header("x-gitlab-token", &secret)
        .header("idempotency-key", id)
        .header("webhook-id", id)
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let answer: Value = answer.json().await.unwrap();
    assert_eq!((status.as_u16(), answer["ok"].as_bool()), (200, Some(true)), "{answer}");

    // The authorization completes: GitLab's redirect reaches the restarted runner.
    let completed = http.get(&back).send().await.unwrap();
    assert_eq!(
        completed.status(),
        303,
        "{}",
        completed.text().await.unwrap_or_default()
    );
    let location = completed.headers()["location"].to_str().unwrap();
    assert!(location.contains("gitlab=success"), "{location}");
    runner.stop();
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
