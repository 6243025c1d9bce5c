//! GitLab's test delivery, really delivered: re-registering a disabled hook makes the fake GitLab
//! send a push to the hook's URL (the runner) with the hook's token, and the hook is enabled
//! again because the runner answered it 2xx.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oore_local::fake_gitlab::FakeOptions;
use serde_json::Value;
use support::{Runner, fake_gitlab, push_fixture};

#[tokio::test]
async fn a_disabled_hook_is_tested_against_the_runner_and_enabled_again() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions::default()).await;
    let http = reqwest::Client::new();
    let runner = Runner::start(dir.path());
    let (integration, _) = runner.connect(&http, &gitlab).await;
    runner.settled_sync(&http, &integration).await;
    let project = push_fixture()["project"]["id"].as_u64().unwrap();
    let repositories = runner
        .all_pages(
            &http,
            &format!("/v1/integrations/{integration}/repositories"),
            "repositories",
        )
        .await;
    let repository = repositories
        .iter()
        .find(|r| r["external_id"].as_str() == Some(project.to_string().as_str()))
        .expect("the fixture's project is stored")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let register = |http: reqwest::Client, base: String, token: String, repository: String| async move {
        let response = http
            .post(format!(
                "{base}/v1/integration-repositories/{repository}/gitlab-webhook"
            ))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    let (base, token) = (runner.base.clone(), runner.token.clone());
    let registered = register(http.clone(), base.clone(), token.clone(), repository.clone()).await;
    let hook_id = registered["hook_id"].as_u64().unwrap();

    oore_local::fake_gitlab::hooks::set_hook_alert(&gitlab.state, project, hook_id, "disabled", None);
    let again = register(http.clone(), base, token, repository.clone()).await;
    assert_eq!(again["alert_status"], "executable", "{again}");
    let log = runner
        .get(
            &http,
            &format!("/v1/integrations/{integration}/deliveries?limit=1"),
            &runner.token,
        )
        .await;
    assert_eq!(
        log["deliveries"][0]["repository_id"].as_str(),
        Some(repository.as_str()),
        "the test push reached the runner: {log}"
    );
    runner.stop();
}
