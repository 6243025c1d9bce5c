//! Prints numbers, asserts nothing about speed: the in-process time of one webhook delivery
//! through the receiver (in-memory store) for a push that builds, a repeat, and an ignored
//! event; how long after its delivery a build's `pending` status reaches GitLab on the local
//! runner; and, with moto running, the AWS calls a warm delivery of each class makes (counted in
//! the SDK clients), the DynamoDB capacity units it spends (metered from the bodies sent, by
//! DynamoDB's sizing rules) and its cost per million at list prices.
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

/// The push fixture for commit number `n`: each commit is a build of its own.
fn push_of_commit(n: usize) -> String {
    let mut push: Value = serde_json::from_str(PUSH).unwrap();
    let sha = format!("{:040x}", 0xc0_0000 + n);
    push["after"] = Value::from(sha.clone());
    push["checkout_sha"] = Value::from(sha);
    push.to_string()
}

async fn time_deliveries(
    h: &Harness,
    label: &str,
    count: usize,
    make: impl Fn(usize) -> (Vec<(String, String)>, String),
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
        |i| (headers("Push Hook", &secret, &format!("push-{i}")), push_of_commit(i)),
        "triggered",
    )
    .await;
    time_deliveries(
        &h,
        "repeat of a delivery",
        2_000,
        |i| {
            (
                headers("Push Hook", &secret, &format!("push-{}", i % 10)),
                push_of_commit(i % 10),
            )
        },
        "duplicate",
    )
    .await;
    time_deliveries(
        &h,
        "note (ignored)",
        2_000,
        |i| (headers("Note Hook", &secret, &format!("note-{i}")), NOTE.to_string()),
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

/// List prices (us-east-1, on demand) per million: DynamoDB write and read request units, HTTP
/// API requests, Lambda requests (the delivery's Lambda time adds well under a cent a million at
/// 128 MB for the ~10 ms a delivery takes).
const WRITE_UNIT_PRICE: f64 = 0.625;
const READ_UNIT_PRICE: f64 = 0.125;
const HTTP_API_PRICE: f64 = 1.00;
const LAMBDA_REQUEST_PRICE: f64 = 0.20;

/// AWS calls and DynamoDB capacity units per warm delivery of each class, and what a million
/// of them cost at list prices.
async fn aws_cost_per_delivery() {
    if std::env::var("AWS_ENDPOINT_URL").map(|v| v.is_empty()).unwrap_or(true) {
        println!("AWS cost per delivery: skipped (no AWS_ENDPOINT_URL; scripts/bench.sh starts moto)");
        return;
    }
    let (h, secret) = connected(Backend::Moto).await;
    let counter = h.aws_calls.clone().expect("moto apps count their calls");
    let meter = counter.capacity();
    // The first delivery of a container may read secrets, and notes the hour on the hook record;
    // the ones after it are warm.
    let deliver = |key: String, event: &'static str, body: String| {
        let h = &h;
        let secret = &secret;
        async move {
            let (status, _, answer) = h
                .send(
                    Method::POST,
                    "/v1/webhooks/gitlab",
                    &headers(event, secret, &key),
                    Some(body.into_bytes()),
                )
                .await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
            String::from_utf8_lossy(&answer).to_string()
        }
    };
    deliver("warm-up".into(), "Push Hook", push_of_commit(999_999)).await;
    let deliveries = 50usize;
    type Make = Box<dyn Fn(usize) -> (String, &'static str, String)>;
    let classes: [(&str, &str, Make); 3] = [
        (
            "push that builds",
            "triggered",
            Box::new(|i| (format!("build-{i}"), "Push Hook", push_of_commit(i))),
        ),
        (
            "resend (duplicate)",
            "duplicate",
            Box::new(|i| (format!("build-{i}"), "Push Hook", push_of_commit(i))),
        ),
        (
            "logged only (note)",
            "ignored",
            Box::new(|i| (format!("note-{i}"), "Note Hook", NOTE.to_string())),
        ),
    ];
    for (label, expect, make) in classes {
        let (calls_before, units_before) = (counter.snapshot(), meter.snapshot());
        for i in 0..deliveries {
            let (key, event, body) = make(i);
            let answer = deliver(key, event, body).await;
            assert!(answer.contains(expect), "{label}: {answer}");
        }
        let calls = counter.snapshot() - calls_before;
        let units = meter.snapshot() - units_before;
        let n = deliveries as f64;
        let (write, read) = (units.write / n, units.read / n);
        let dynamodb = write * WRITE_UNIT_PRICE + read * READ_UNIT_PRICE;
        println!(
            "cost per delivery, {label:<20} DynamoDB calls {:.2}, Secrets Manager {:.2}; write units {write:.2}, read units {read:.2}; per million: DynamoDB ${dynamodb:.2}, with API and Lambda ${:.2}",
            calls.dynamodb as f64 / n,
            calls.secrets_manager as f64 / n,
            dynamodb + HTTP_API_PRICE + LAMBDA_REQUEST_PRICE,
        );
    }
}

#[tokio::main]
async fn main() {
    embedded_latency().await;
    pending_status_latency().await;
    aws_cost_per_delivery().await;
}
