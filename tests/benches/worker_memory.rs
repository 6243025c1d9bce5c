//! Prints numbers, asserts nothing: the peak RSS (`VmHWM`) of the sync worker's two big jobs on
//! the real DynamoDB adapter (moto): one sync pass, and one purge of the deleted integration, at
//! several account sizes; then a line fitted through each and its 100,000-project extrapolation.
//!
//! Each job runs in a process of its own (this binary again), so its peak is its own: the fake
//! GitLab is served by this process, and moto runs apart.
//!
//! Run: `scripts/bench.sh --bench worker_memory` (starts moto). `WORKER_MEMORY_PROJECTS` (a
//! comma-separated list, default `2500,5000,10000,20000`) changes the sizes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{MASTER_KEY, PAT, SIGNING_KEY, integration_items, moto_sdk, moto_table, test_config_with};
use oore_local::fake_gitlab::{FakeGitLab, FakeOptions, FakeToken};
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::inbound::http::App;
use shared::inbound::http::auth::Role;
use shared::ports::{Clock, SystemClock};

/// Set in a child: which job it runs (`sync` or `purge`).
const PHASE: &str = "WORKER_MEMORY_PHASE";

fn kib_of(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The service on moto's table `table`, as a Lambda builds it.
async fn app_on(table: &str, prefix: &str) -> App {
    let sdk = moto_sdk().await;
    shared::wiring::aws_app_with(
        &sdk,
        test_config_with(table, prefix),
        shared::wiring::gitlab_client(),
        Arc::new(SystemClock),
    )
}

async fn call(app: &App, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let config = &app.services.config;
    let key = SecretString::from(SIGNING_KEY.to_string());
    let token = shared::inbound::http::auth::issue_token(
        &key,
        "bench",
        Role::Owner,
        &config.token_issuer,
        &config.token_audience,
        SystemClock.now(),
        3600,
    )
    .expect("the bench key is long enough");
    let request = http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(body.map_or(lambda_http::Body::Empty, |b| lambda_http::Body::Text(b.to_string())))
        .expect("the request builds");
    let response = app.handle(request).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default(),
    )
}

/// Child, `sync`: connects the GitLab at `url` and waits for the first pass to end.
async fn sync_phase(table: &str, prefix: &str, url: &str) {
    let app = app_on(table, prefix).await;
    let vault = &app.services.vault;
    let keys = [
        (&app.services.config.caller_key_secret_id, SIGNING_KEY),
        (&app.services.config.master_key_secret_id, MASTER_KEY),
    ];
    for (name, value) in keys {
        vault
            .create_secret(name, &SecretString::from(value.to_string()))
            .await
            .expect("moto stores the key");
    }
    let before = kib_of("VmRSS:");
    let body = json!({"host_url": url, "auth_mode": "personal_token", "access_token": PAT});
    let (status, connected) = call(&app, Method::POST, "/v1/integrations/gitlab/start", Some(body)).await;
    assert_eq!(status, 200, "{connected}");
    let id = connected["integration"]["id"].as_str().expect("an id").to_string();
    let started = Instant::now();
    loop {
        let (_, detail) = call(&app, Method::GET, &format!("/v1/integrations/{id}"), None).await;
        if detail["sync"]["state"] != "running" {
            assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "the sync did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("{id} {before} {}", kib_of("VmHWM:"));
}

/// Child, `purge`: deletes the integration and waits until nothing of it is left.
async fn purge_phase(table: &str, prefix: &str, id: &str) {
    let app = app_on(table, prefix).await;
    let before = kib_of("VmRSS:");
    let (status, answer) = call(&app, Method::DELETE, &format!("/v1/integrations/{id}"), None).await;
    assert_eq!(status, 200, "{answer}");
    let started = Instant::now();
    let id = shared::domain::ids::IntegrationId::from(id);
    loop {
        let left = integration_items(table, &id).await;
        if left == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "the purge did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("{before} {}", kib_of("VmHWM:"));
}

/// Runs this binary as the child `phase`; answers its one line of output, split.
async fn child(phase: &str, env: &[(&str, String)]) -> Vec<String> {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut command = std::process::Command::new(exe);
    command.env(PHASE, phase);
    for (name, value) in env {
        command.env(name, value);
    }
    // Waited for on a blocking thread: this process's runtime keeps serving the fake GitLab.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the wait ends")
        .expect("the child runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().expect("the child prints its numbers").to_string();
    line.split_whitespace().map(str::to_string).collect()
}

/// Least squares through `(x, y)`: slope and intercept.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    (slope, my - slope * mx)
}

fn report(job: &str, points: &[(f64, f64)]) {
    let (slope_kib, intercept_kib) = fit(points);
    let at = |projects: f64| (intercept_kib + slope_kib * projects) / 1024.0;
    println!(
        "worker memory on DynamoDB, {job:<10} peak RSS grows {:>5.0} bytes a project (base {:.1} MiB); at 100,000 projects {:.1} MiB (goal < 128 MiB)",
        slope_kib * 1024.0,
        intercept_kib / 1024.0,
        at(100_000.0),
    );
}

#[tokio::main]
async fn main() {
    if let Ok(phase) = std::env::var(PHASE) {
        let var = |name: &str| std::env::var(name).expect("the parent sets it");
        match phase.as_str() {
            "sync" => sync_phase(&var("BENCH_TABLE"), &var("BENCH_PREFIX"), &var("BENCH_GITLAB")).await,
            _ => purge_phase(&var("BENCH_TABLE"), &var("BENCH_PREFIX"), &var("BENCH_INTEGRATION")).await,
        }
        return;
    }
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        println!("worker memory on DynamoDB: skipped (no AWS_ENDPOINT_URL; scripts/bench.sh starts moto)");
        return;
    }
    let sizes: Vec<usize> = std::env::var("WORKER_MEMORY_PROJECTS")
        .unwrap_or_else(|_| "2500,5000,10000,20000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let (mut sync_points, mut purge_points) = (Vec::new(), Vec::new());
    for projects in sizes {
        let gitlab = FakeGitLab::start(
            FakeOptions {
                prefix: String::new(),
                projects,
                delay: Duration::ZERO,
            },
            0,
        )
        .await
        .expect("the fake GitLab starts");
        gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
        let table = moto_table(&moto_sdk().await).await;
        let prefix = format!("bench-{}/", uuid::Uuid::new_v4().simple());
        let env = [("BENCH_TABLE", table), ("BENCH_PREFIX", prefix)];
        let mut sync_env = env.to_vec();
        sync_env.push(("BENCH_GITLAB", gitlab.base_url.clone()));
        let synced = child("sync", &sync_env).await;
        let (id, sync_start, sync_peak) = (synced[0].clone(), synced[1].clone(), synced[2].clone());
        let mut purge_env = env.to_vec();
        purge_env.push(("BENCH_INTEGRATION", id));
        let purged = child("purge", &purge_env).await;
        let kib = |v: &String| v.parse::<f64>().unwrap_or(0.0);
        println!(
            "worker memory on DynamoDB, {projects:>6} projects: sync pass peak {:.1} MiB (from {:.1}), purge peak {:.1} MiB (from {:.1})",
            kib(&sync_peak) / 1024.0,
            kib(&sync_start) / 1024.0,
            kib(&purged[1]) / 1024.0,
            kib(&purged[0]) / 1024.0,
        );
        sync_points.push((projects as f64, kib(&sync_peak)));
        purge_points.push((projects as f64, kib(&purged[1])));
    }
    if sync_points.len() >= 2 {
        report("sync pass", &sync_points);
        report("purge", &purge_points);
    }
}
