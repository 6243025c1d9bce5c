//! The runner as a process with proxy variables set: GitLab calls never go through a proxy,
//! because the SSRF guard checks the addresses it resolves itself, and a proxy would resolve
//! `host_url` where the guard cannot see it (and receive our token).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use oore_local::fake_gitlab::FakeOptions;
use support::{Runner, fake_gitlab, free_port};

#[tokio::test]
async fn gitlab_calls_do_not_go_through_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions::default()).await;
    // A proxy nobody listens on: a call sent through it fails.
    let proxy = format!("http://127.0.0.1:{}", free_port());
    let settings: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.as_str()))
    .collect();
    let runner = Runner::start_with(dir.path(), &settings);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (integration, _) = runner.connect(&http, &gitlab).await;
    let sync = runner.settled_sync(&http, &integration).await;
    assert_eq!(sync["state"], "succeeded", "{sync}");
    runner.stop();
}
