//! Prints numbers, asserts nothing about speed: the local runner on its durable store, as a
//! child process. A sync of 100,000 projects from a fake GitLab; how long the runner takes to
//! start (spawn to its ready line: store opened, port bound) with them stored, after a clean
//! stop and after a SIGKILL; a soak of 100,000 deliveries (16 senders, each a new commit) with the runner's RSS
//! before and after and the delivery latencies; then the expiry sweep of what the soak wrote,
//! once the 30 days a delivery is kept are over. With wrk installed, the intake as the daemon was
//! measured: wrk at 16 connections and at 1, each request a new commit, with the runner's CPU
//! time per delivery.
//!
//! Run: `cargo bench -p oore-local --bench durable_store` (no AWS, no moto).
//! `DURABLE_PROJECTS`, `DURABLE_DELIVERIES` and `DURABLE_SENDERS` change the counts,
//! `DURABLE_WRK_SECONDS` each wrk run's length (10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;
mod wrk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oore_local::fake_gitlab::FakeOptions;
use shared::adapters::embedded::LocalData;
use support::{Runner, deliver, fake_gitlab, push_fixture, push_of_commit};

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A process's resident memory (MiB), from /proc.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A process's CPU time so far (user and system, seconds), from /proc: clock ticks, which Linux
/// reports at 100 a second.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Waits (bounded) until the fake GitLab holds `statuses` commit statuses: the runner's
/// hand-off has caught up, so the next run does not share the machine with its backlog.
async fn handed_off(gitlab: &oore_local::fake_gitlab::FakeGitLab, statuses: usize) -> Duration {
    let began = Instant::now();
    while gitlab.state.builds.status_count() < statuses && began.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    began.elapsed()
}

/// The data folder's size on disk (MiB).
fn folder_mib(dir: &std::path::Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    bytes as f64 / (1024.0 * 1024.0)
}

/// Starts the runner `times` times, stopping it each time with `stop`; the sorted start times.
fn startups(dir: &std::path::Path, times: usize, stop: fn(Runner)) -> Vec<Duration> {
    let mut took: Vec<Duration> = (0..times)
        .map(|_| {
            let runner = Runner::start(dir);
            let started = runner.started_in;
            stop(runner);
            started
        })
        .collect();
    took.sort();
    took
}

#[tokio::main]
async fn main() {
    let projects = count("DURABLE_PROJECTS", 100_000);
    let deliveries = count("DURABLE_DELIVERIES", 100_000);
    let sender_count = count("DURABLE_SENDERS", 16).max(1);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let gitlab = fake_gitlab(FakeOptions {
        projects,
        ..FakeOptions::default()
    })
    .await;
    let http = reqwest::Client::new();

    // The sync that fills the store.
    let runner = Runner::start(&dir);
    let began = Instant::now();
    let (integration, secret) = runner.connect(&http, &gitlab).await;
    let sync = runner.settled_sync(&http, &integration).await;
    println!(
        "sync: {} repositories stored in {:.1} s ({}), data folder {:.1} MiB",
        sync["repositories_seen"],
        began.elapsed().as_secs_f64(),
        sync["state"],
        folder_mib(&dir)
    );
    runner.stop();

    // Starting with them stored.
    let clean = startups(&dir, 10, Runner::stop);
    println!(
        "startup after a clean stop ({} repositories, 10 runs): median {:.1} ms, max {:.1} ms",
        projects + 1,
        ms(percentile(&clean, 0.5)),
        ms(clean[clean.len() - 1])
    );
    let killed = startups(&dir, 3, Runner::kill);
    println!(
        "startup after a SIGKILL (3 runs): median {:.1} ms, max {:.1} ms",
        ms(percentile(&killed, 0.5)),
        ms(killed[killed.len() - 1])
    );

    // The soak.
    let runner = Runner::start(&dir);
    let rss_before = rss_mib(runner.child.id());
    let template = Arc::new(push_fixture());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pid = runner.child.id();
    let began = Instant::now();
    let senders: Vec<_> = (0..sender_count)
        .map(|_| {
            let (http, base, secret, template, next, pid) = (
                http.clone(),
                runner.base.clone(),
                secret.clone(),
                template.clone(),
                next.clone(),
                pid,
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let sent_so_far = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if sent_so_far >= deliveries {
                        break;
                    }
                    if sent_so_far > 0 && sent_so_far % (deliveries / 5).max(1) == 0 {
                        println!("soak: {sent_so_far} sent, runner RSS {:.1} MiB", rss_mib(pid));
                    }
                    let key = uuid::Uuid::new_v4().to_string();
                    // Each delivery a new commit: a build of its own, as pushes arrive.
                    let body = push_of_commit(&template, sent_so_far);
                    let sent = Instant::now();
                    let answer = deliver(&http, &base, &secret, &key, &body).await;
                    assert_eq!(answer.map(|(status, _)| status), Some(200));
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for sender in senders {
        latencies.extend(sender.await.unwrap());
    }
    let took = began.elapsed();
    latencies.sort();
    let rss_after = rss_mib(runner.child.id());
    println!(
        "soak: {} deliveries from {sender_count} senders in {:.1} s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        latencies.len(),
        took.as_secs_f64(),
        latencies.len() as f64 / took.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1])
    );
    println!(
        "soak: runner RSS {:.1} MiB before, {:.1} MiB after; data folder {:.1} MiB",
        rss_before,
        rss_after,
        folder_mib(&dir)
    );
    if wrk::installed() {
        let seconds = count("DURABLE_WRK_SECONDS", 10) as u64;
        let body = root.path().join("push.json");
        wrk::write_body(&template, &body);
        let mut delivered = latencies.len();
        let caught_up = handed_off(&gitlab, delivered).await;
        println!(
            "soak: the hand-off posted every pending status {:.1} s after the last answer",
            caught_up.as_secs_f64()
        );
        for (run, connections) in [(1u8, 16usize), (2, 16), (3, 1)] {
            let cpu_before = cpu_seconds(pid);
            let measured = wrk::run(&runner.base, &secret, &body, connections, seconds, run);
            let cpu = cpu_seconds(pid) - cpu_before;
            println!(
                "wrk: {connections} connection(s), {seconds} s: {:.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms, \
                 {} answers not 2xx; runner CPU {:.0} µs a delivery",
                measured.rate,
                measured.p50_ms,
                measured.p99_ms,
                measured.not_ok,
                cpu * 1e6 / measured.requests.max(1) as f64
            );
            delivered += measured.requests as usize;
            handed_off(&gitlab, delivered).await;
        }
    } else {
        println!("wrk: not installed (scripts/bench.sh installs it), so the wrk runs are skipped");
    }
    runner.stop();

    // The 30 days the log is kept are over: what the sweep removes, and how long it takes.
    let data = LocalData::open(&dir).unwrap();
    let month_later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 31 * 86_400;
    let began = Instant::now();
    let swept = data.store.sweep_expired(month_later).await.unwrap();
    println!(
        "sweep: {} deliveries and {} dedupe markers removed in {:.1} s; data folder {:.1} MiB (redb reuses the freed pages)",
        swept.deliveries,
        swept.dedupe_markers,
        began.elapsed().as_secs_f64(),
        folder_mib(&dir)
    );
}
