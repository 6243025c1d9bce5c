//! Prints numbers, asserts nothing about speed: 100,000 projects behind one token, from a fake
//! GitLab answering each page in 100 ms. How soon connect answers, how soon every project is
//! listed (sync concurrency 8), the p95 of a page, a deep page (offset 99,000) and a search on
//! the in-memory store, the peak RSS; and, with moto running, the bytes DynamoDB answers per
//! listing request, counted in the SDK client, and per page of the listing across two
//! integrations of 20,000 repositories each. Then the sync worker's memory: a process of its
//! own runs the sync of every project against the fake GitLab (served by this process) and
//! reports its peak RSS.
//!
//! Run: `scripts/bench.sh --bench scale` (starts moto). `SCALE_PROJECTS`, `SCALE_MOTO_PROJECTS`
//! and `SCALE_CROSS_PROJECTS` change the counts; `SCALE_ONLY=cross` runs only the listing across
//! integrations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::FakeOptions;
use shared::inbound::http::auth::Role;

const OWNER: Option<Role> = Some(Role::Owner);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Connects and waits (bounded) until the first pass ended; returns both times.
async fn connect_and_sync(h: &Harness) -> (String, Duration, Duration) {
    // The start call itself (the harness's `connect` would also wait for the pass).
    let body = serde_json::json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token", "access_token": PAT});
    let started = Instant::now();
    let (status, connected) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            OWNER,
            Some(&body.to_string()),
        )
        .await;
    let answered = started.elapsed();
    assert_eq!(status, 200, "{connected}");
    let id = connected["integration"]["id"].as_str().unwrap().to_string();
    let deadline = started + Duration::from_secs(900);
    loop {
        let (_, detail) = h
            .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
            .await;
        if detail["sync"]["state"] != "running" {
            assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
            break;
        }
        assert!(Instant::now() < deadline, "the sync did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (id, answered, started.elapsed())
}

fn requests(id: &str, projects: usize) -> [(&'static str, String); 3] {
    let deep = projects.saturating_sub(1_000);
    [
        ("first page", format!("/v1/integrations/{id}/repositories?limit=20")),
        (
            "deep page",
            format!("/v1/integrations/{id}/repositories?limit=20&offset={deep}"),
        ),
        (
            "search",
            format!("/v1/integrations/{id}/repositories?q=project-0999&limit=20"),
        ),
    ]
}

async fn in_memory() {
    let projects = count("SCALE_PROJECTS", 100_000);
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects,
            delay: Duration::from_millis(100),
        },
    )
    .await;
    let (id, answered, listed) = connect_and_sync(&h).await;
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    println!(
        "scale, {projects} projects at 100 ms a page, concurrency {}: connect answered in {:.2} s (goal <= 2 s); every project listed after {:.1} s (goal <= 20 s); repository_count {}",
        h.app.services.config.sync_concurrency,
        answered.as_secs_f64(),
        listed.as_secs_f64(),
        detail["repository_count"],
    );
    for (label, path) in requests(&id, projects) {
        let mut samples = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let (status, body) = h.call(Method::GET, &path, OWNER, None).await;
            samples.push(started.elapsed());
            assert_eq!(status, 200, "{body}");
        }
        samples.sort();
        println!(
            "scale, in-memory store, {label:<10} p50 {:>7.2} ms  p95 {:>7.2} ms  (goal p95 <= 20 ms)",
            percentile(&samples, 0.5).as_secs_f64() * 1e3,
            percentile(&samples, 0.95).as_secs_f64() * 1e3
        );
    }
    println!(
        "scale, peak RSS of the process (service, fake GitLab and {projects} projects): {:.0} MiB",
        peak_rss_mib()
    );
}

async fn moto_bytes() {
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        println!("scale, bytes read per request on moto: skipped (no AWS_ENDPOINT_URL; scripts/bench.sh starts moto)");
        return;
    }
    let projects = count("SCALE_MOTO_PROJECTS", 100_000);
    let h = Harness::new(
        Backend::Moto,
        FakeOptions {
            prefix: String::new(),
            projects,
            delay: Duration::ZERO,
        },
    )
    .await;
    let (id, _, listed) = connect_and_sync(&h).await;
    let counter = h.aws_calls.clone().expect("moto apps count their calls");
    println!(
        "scale, moto: {projects} projects synced in {:.1} s",
        listed.as_secs_f64()
    );
    for (label, path) in requests(&id, projects)
        .into_iter()
        .chain([("detail", format!("/v1/integrations/{id}"))])
    {
        let before = counter.snapshot();
        let (status, _) = h.call(Method::GET, &path, OWNER, None).await;
        assert_eq!(status, 200);
        let spent = counter.snapshot() - before;
        println!(
            "scale, moto, {label:<10} DynamoDB calls {:>3}, bytes read {:>9} (goal <= 1 MB)",
            spent.dynamodb, spent.dynamodb_bytes
        );
    }
}

/// The listing across integrations with two of `SCALE_CROSS_PROJECTS` (default 20,000)
/// repositories each, stored directly: DynamoDB calls and bytes read for a first, a middle and a
/// last page (a search, which reads the indexes, for comparison).
async fn cross_integration_bytes() {
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        return;
    }
    let projects = count("SCALE_CROSS_PROJECTS", 20_000) as u64;
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let services = &h.app.services;
    for _ in 0..2 {
        let id = shared::domain::ids::IntegrationId::generate();
        services
            .integrations
            .create_integration(&oore_gitlab_tests::records::record(&id), None, None)
            .await
            .unwrap();
        let repositories: Vec<_> = (1..=projects)
            .map(|p| oore_gitlab_tests::records::repo(&id, p))
            .collect();
        services
            .repositories
            .write_repositories(&id, &repositories, &[])
            .await
            .unwrap();
        let change = shared::domain::name_index::IndexChange {
            added: repositories
                .iter()
                .map(shared::domain::name_index::IndexEntry::of)
                .collect(),
            gone: Vec::new(),
        };
        services
            .repositories
            .change_name_index(&id, change, shared::domain::name_index::WhenMissing::Create)
            .await
            .unwrap();
    }
    let counter = h.aws_calls.clone().expect("moto apps count their calls");
    let all = 2 * projects;
    for (label, query) in [
        ("first page", "offset=0&limit=50".to_string()),
        ("middle page", format!("offset={}&limit=50", all / 2)),
        ("last page", format!("offset={}&limit=50", all - 50)),
        ("search", "q=project-1999&limit=50".to_string()),
    ] {
        let before = counter.snapshot();
        let (status, page) = h
            .call(
                Method::GET,
                &format!("/v1/integration-repositories?{query}"),
                OWNER,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let spent = counter.snapshot() - before;
        println!(
            "scale, moto, across two integrations of {projects} repositories, {label:<11} DynamoDB calls {:>3}, bytes read {:>9}",
            spent.dynamodb, spent.dynamodb_bytes
        );
    }
}

/// This bench's own binary, run again as a process that only syncs (see [`worker_only`]).
const WORKER_GITLAB: &str = "SCALE_WORKER_GITLAB";

/// Serves the fake GitLab here and runs the sync in a child process, whose peak RSS is then the
/// service's and the sync's alone: the upper bound of a sync worker's, since this one also keeps
/// every repository and the name index in its own memory (a worker on DynamoDB keeps neither).
async fn worker_memory() {
    let projects = count("SCALE_PROJECTS", 100_000);
    let gitlab = oore_local::fake_gitlab::FakeGitLab::start(
        FakeOptions {
            prefix: String::new(),
            projects,
            delay: Duration::from_millis(100),
        },
        0,
    )
    .await
    .expect("the fake GitLab starts");
    gitlab
        .state
        .add_token(PAT, oore_local::fake_gitlab::FakeToken::live(&["api"]));
    let exe = std::env::current_exe().expect("the bench's own path");
    let url = gitlab.base_url.clone();
    // Waited for on a blocking thread: this process's runtime keeps serving the fake GitLab.
    let child = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .env(WORKER_GITLAB, url)
            .env("SCALE_PROJECTS", projects.to_string())
            .output()
    })
    .await
    .expect("the wait ends")
    .expect("the worker process runs");
    print!("{}", String::from_utf8_lossy(&child.stdout));
    assert!(child.status.success(), "{}", String::from_utf8_lossy(&child.stderr));
}

/// The child: the service on the in-memory store, connected to the GitLab at `url`, syncing every
/// project; prints its peak RSS.
async fn worker_only(url: &str) {
    let projects = count("SCALE_PROJECTS", 100_000);
    let key = secrecy::SecretString::from(oore_gitlab_tests::SIGNING_KEY.to_string());
    let app = shared::wiring::memory_app(
        oore_gitlab_tests::test_config("embedded"),
        shared::wiring::gitlab_client(),
        std::sync::Arc::new(shared::ports::SystemClock),
        &key,
    )
    .await
    .expect("a fresh memory vault takes the keys");
    let config = &app.services.config;
    let now = shared::ports::Clock::now(&shared::ports::SystemClock);
    let token = shared::inbound::http::auth::issue_token(
        &key,
        "u",
        Role::Owner,
        &config.token_issuer,
        &config.token_audience,
        now,
        3600,
    )
    .expect("the bench key is long enough");
    let call = |method: Method, path: String, body: Option<String>| {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"))
            .header("authorization", format!("Bearer {token}"))
            .body(body.map(lambda_http::Body::Text).unwrap_or(lambda_http::Body::Empty))
            .expect("the request builds");
        let app = &app;
        async move {
            let response = app.handle(request).await;
            serde_json::from_slice::<serde_json::Value>(response.body().as_ref()).unwrap_or_default()
        }
    };
    let body = serde_json::json!({"host_url": url, "auth_mode": "personal_token", "access_token": PAT});
    let started = Instant::now();
    let connected = call(
        Method::POST,
        "/v1/integrations/gitlab/start".into(),
        Some(body.to_string()),
    )
    .await;
    let id = connected["integration"]["id"].as_str().expect("connected").to_string();
    let detail = loop {
        let detail = call(Method::GET, format!("/v1/integrations/{id}"), None).await;
        if detail["sync"]["state"] != "running" {
            break detail;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "the sync did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
    println!(
        "scale, sync worker process ({projects} projects synced in {:.1} s, repository_count {}): peak RSS {:.0} MiB, with every repository and the name index held in its own memory (goal < 128 MiB for the worker)",
        started.elapsed().as_secs_f64(),
        detail["repository_count"],
        peak_rss_mib()
    );
}

#[tokio::main]
async fn main() {
    if let Ok(url) = std::env::var(WORKER_GITLAB) {
        worker_only(&url).await;
        return;
    }
    // `SCALE_ONLY=cross` runs the listing across integrations alone.
    if std::env::var("SCALE_ONLY").is_ok_and(|only| only == "cross") {
        cross_integration_bytes().await;
        return;
    }
    in_memory().await;
    moto_bytes().await;
    cross_integration_bytes().await;
    worker_memory().await;
}
