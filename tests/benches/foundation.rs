//! Prints numbers, asserts nothing about speed: the in-process latency of
//! `GET /v1/integrations/{id}/repositories` over 1,000 repositories (in-memory store), and the
//! sync of 5,000 projects from a fake GitLab answering each page in 100 ms, side by side with
//! walking the pages one by one.
//!
//! Run: `cargo bench -p oore-gitlab-tests --bench foundation`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::FakeOptions;
use secrecy::SecretString;
use shared::app::sync::walk::{DEFAULT_CONCURRENCY, fetch_all_projects};
use shared::domain::host::{HostPolicy, HostUrl};
use shared::inbound::http::auth::Role;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn list_latency() {
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects: 1_000,
            delay: Duration::ZERO,
        },
    )
    .await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let token = h.token(Role::Owner);
    let paths = [
        format!("/v1/integrations/{id}/repositories"),
        format!("/v1/integrations/{id}/repositories?limit=100&offset=900"),
        format!("/v1/integrations/{id}/repositories?q=private&limit=50"),
    ];
    for path in &paths {
        for _ in 0..20 {
            h.raw(Method::GET, path, Some(&token), None).await;
        }
        let mut samples = Vec::with_capacity(500);
        for _ in 0..500 {
            let started = Instant::now();
            let (status, _, body) = h.raw(Method::GET, path, Some(&token), None).await;
            samples.push(started.elapsed());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        samples.sort();
        println!(
            "list repositories (1,000 stored) {path:<70} p50 {:>7.3} ms  p95 {:>7.3} ms  p99 {:>7.3} ms",
            percentile(&samples, 0.50).as_secs_f64() * 1e3,
            percentile(&samples, 0.95).as_secs_f64() * 1e3,
            percentile(&samples, 0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn sync_time() {
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects: 5_000,
            delay: Duration::from_millis(100),
        },
    )
    .await;
    let host = HostUrl::parse(
        &h.gitlab.base_url,
        &HostPolicy {
            allow_http_loopback: true,
            http_hosts: vec![],
        },
    )
    .unwrap();
    let token = SecretString::from(PAT.to_string());
    let gitlab = shared::wiring::gitlab_client();
    let mut results = Vec::new();
    for (label, concurrency) in [("one page at a time", 1), ("concurrent", DEFAULT_CONCURRENCY)] {
        let started = Instant::now();
        let projects = fetch_all_projects(gitlab.as_ref(), &host, &token, concurrency)
            .await
            .expect("sync reads every page");
        let elapsed = started.elapsed();
        assert_eq!(projects.len(), 5_000);
        println!(
            "fetch 5,000 projects, 100 ms per page, {label:<20} (concurrency {concurrency}): {:>7.0} ms",
            elapsed.as_secs_f64() * 1e3
        );
        results.push(elapsed);
    }
    println!(
        "concurrent / one-by-one: {:.3} (target <= 0.25)",
        results[1].as_secs_f64() / results[0].as_secs_f64()
    );

    // The whole sync through the handler: GitLab pages plus the store writes.
    h.gitlab.state.set_delay(Duration::ZERO);
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.gitlab.state.set_delay(Duration::from_millis(100));
    h.gitlab.state.set_projects(5_000);
    let started = Instant::now();
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            Some(Role::Owner),
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200);
    println!(
        "POST …/installations re-sync of 5,000 projects (100 ms per page, in-memory store): {:>7.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    list_latency().await;
    sync_time().await;
}
