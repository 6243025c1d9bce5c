//! Prints numbers, asserts nothing about speed: the in-process time of one webhook delivery
//! through the receiver (in-memory store) for a push that builds, a repeat, and an ignored
//! event; how long after its delivery a build's `pending` status reaches GitLab on the local
//! runner; and, with moto running, the AWS calls a warm delivery makes, counted in the SDK clients.
//!
//! Run: `scripts/bench.sh --bench webhooks` (starts moto), or
//! `cargo bench -p oore-gitlab-tests --bench webhooks` (in-memory numbers only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::Value;

const PUSH: &str = include_str!("../fixtures/gitlab/webhooks/push.json");
const NOTE: &str = include_str!("../fixtures/gitlab/webhooks/merge_request_comment_create.json");

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn headers(event: &str, token: &str, key: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("x-gitlab-event".into(), event.into()),
        ("x-gitlab-token".into(), token.into()),
        ("idempotency-key".into(), key.into()),
    ]
}

async fn connected(backend: Backend) -> (Harness, String) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let push: Value = serde_json::from_str(PUSH).unwrap();
    h.gitlab.state.add_project(&push["project"]);
    let started = h.connect().await;
    h.sync_settled(started["integration"]["id"].as_str().unwrap()).await;
    let secret = started["webhook_secret"].as_str().unwrap().to_string();
    (h, secret)
}

async fn time_deliveries(
    h: &Harness,
    label: &str,
    count: usize,
    make: impl Fn(usize) -> (Vec<(String, String)>, &'static str),
    expect: &str,
) {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let (headers, body) = make(i);
        let started = Instant::now();
        let (status, _, answer) = h
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers,
                Some(body.as_bytes().to_vec()),
            )
            .await;
        samples.push(started.elapsed());
        let answer = String::from_utf8_lossy(&answer);
        assert!(status == 200 && answer.contains(expect), "{label}: {status} {answer}");
    }
    samples.sort();
    println!(
        "webhook delivery, in-memory store, {label:<28} p50 {:>7.3} ms  p95 {:>7.3} ms  p99 {:>7.3} ms  ({count} deliveries)",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
    );
}

async fn embedded_latency() {
    let (h, secret) = connected(Backend::Memory).await;
    time_deliveries(
        &h,
        "push (triggers a build)",
        2_000,
        |i| (headers("Push Hook", &secret, &format!("push-{i}")), PUSH),
        "triggered",
    )
    .await;
    time_deliveries(
        &h,
        "repeat of a delivery",
        2_000,
        |i| (headers("Push Hook", &secret, &format!("push-{}", i % 10)), PUSH),
        "duplicate",
    )
    .await;
    time_deliveries(
        &h,
        "note (ignored)",
        2_000,
        |i| (headers("Note Hook", &secret, &format!("note-{i}")), NOTE),
        "ignored",
    )
    .await;
}

/// Delivery to `pending` at GitLab, on the local runner's in-process hand-off: each delivery
/// carries its own commit, and the fake GitLab is watched for that commit's status.
async fn pending_status_latency() {
    let (h, secret) = connected(Backend::Memory).await;
    let template: Value = serde_json::from_str(PUSH).unwrap();
    let count = 100;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let sha = format!("{:040x}", 0xab0000 + i);
        let mut push = template.clone();
        push["after"] = Value::from(sha.clone());
        push["checkout_sha"] = Value::from(sha.clone());
        let body = push.to_string().into_bytes();
        let started = Instant::now();
        let (status, _, _) = h
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers("Push Hook", &secret, &format!("pending-{i}")),
                Some(body),
            )
            .await;
        assert_eq!(status, 200);
        let deadline = started + Duration::from_secs(10);
        while !h
            .gitlab
            .state
            .builds
            .statuses()
            .iter()
            .any(|s| s.sha == sha && s.state == "pending")
        {
            assert!(Instant::now() < deadline, "no pending status for delivery {i}");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    println!(
        "pending commit status at GitLab after the delivery, local runner: p50 {:>7.3} ms  p95 {:>7.3} ms  max {:>7.3} ms  ({count} deliveries; goal p95 <= 2 s)",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        samples[count - 1].as_secs_f64() * 1e3,
    );
}

async fn aws_calls_per_warm_delivery() {
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        println!("AWS calls per warm delivery: skipped (no AWS_ENDPOINT_URL; scripts/bench.sh starts moto)");
        return;
    }
    let (h, secret) = connected(Backend::Moto).await;
    let counter = h.aws_calls.clone().expect("moto apps count their calls");
    // The first delivery of a container may read secrets; the ones after it are warm.
    h.send(
        Method::POST,
        "/v1/webhooks/gitlab",
        &headers("Push Hook", &secret, "warm-up"),
        Some(PUSH.as_bytes().to_vec()),
    )
    .await;
    let deliveries = 50u64;
    let before = counter.snapshot();
    let started = Instant::now();
    for i in 0..deliveries {
        let (status, _, _) = h
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers("Push Hook", &secret, &format!("m-{i}")),
                Some(PUSH.as_bytes().to_vec()),
            )
            .await;
        assert_eq!(status, 200);
    }
    let elapsed = started.elapsed();
    let spent = counter.snapshot() - before;
    println!(
        "AWS calls per warm delivery (push that builds, {deliveries} deliveries on moto): DynamoDB {:.2}, Secrets Manager {:.2}  (budget: <= 2, 0); {:.1} ms each on moto",
        spent.dynamodb as f64 / deliveries as f64,
        spent.secrets_manager as f64 / deliveries as f64,
        elapsed.as_secs_f64() * 1e3 / deliveries as f64,
    );
}

#[tokio::main]
async fn main() {
    embedded_latency().await;
    pending_status_latency().await;
    aws_calls_per_warm_delivery().await;
}
