//! The runner as a process on its data folder. Killed with SIGKILL in the middle of deliveries,
//! or of a sync pass, then started again: every delivery it had answered 200 is in the log
//! exactly once with its trigger, the webhook secret and caller tokens still work, and the pass
//! is finished. In AWS mode it leaves the folder's store alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oore_local::fake_gitlab::FakeOptions;
use support::{Runner, deliver, fake_gitlab, push_fixture, push_of_commit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_answered_before_a_kill_are_kept_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions::default()).await;
    let http = reqwest::Client::new();
    let runner = Runner::start(dir.path());
    let (integration, secret) = runner.connect(&http, &gitlab).await;
    runner.settled_sync(&http, &integration).await;

    // Eight senders deliver until the runner dies under them.
    let template = Arc::new(push_fixture());
    let answered = Arc::new(AtomicUsize::new(0));
    let commit = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (http, base, secret, template, answered, commit) = (
                http.clone(),
                runner.base.clone(),
                secret.clone(),
                template.clone(),
                answered.clone(),
                commit.clone(),
            );
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for _ in 0..2_000 {
                    let key = uuid::Uuid::new_v4().to_string();
                    // A commit of its own: the same commit again would be the same build.
                    let n = commit.fetch_add(1, Ordering::SeqCst);
                    let body = push_of_commit(&template, n);
                    match deliver(&http, &base, &secret, &key, &body).await {
                        Some((200, answer)) => {
                            let trigger = answer["trigger_id"].as_str().expect("a push triggers").to_string();
                            acknowledged.push((key, trigger, n));
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Some((status, answer)) => panic!("{status}: {answer}"),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::SeqCst) < 150 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first_token = runner.token.clone();
    runner.kill();
    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(acknowledged.len() >= 150, "only {} answered", acknowledged.len());

    let runner = Runner::start(dir.path());
    // The caller key was kept: a token from before the kill still works.
    let log = runner
        .all_pages(
            &http,
            &format!("/v1/integrations/{integration}/deliveries?limit=100"),
            "deliveries",
        )
        .await;
    let _ = runner
        .get(&http, &format!("/v1/integrations/{integration}"), &first_token)
        .await;
    let triggers = runner
        .all_pages(
            &http,
            &format!("/v1/build-triggers?integration_id={integration}&limit=200"),
            "triggers",
        )
        .await;
    for (key, trigger, _) in &acknowledged {
        let entries = log.iter().filter(|d| d["delivery_id"] == key.as_str()).count();
        assert_eq!(entries, 1, "delivery {key} is logged once");
        let copies = triggers.iter().filter(|t| t["id"] == trigger.as_str()).count();
        assert_eq!(copies, 1, "trigger {trigger} exists once");
    }
    let mut trigger_ids: Vec<_> = triggers.iter().map(|t| t["id"].to_string()).collect();
    trigger_ids.sort();
    trigger_ids.dedup();
    assert_eq!(trigger_ids.len(), triggers.len(), "no trigger is listed twice");

    // GitLab retrying an acknowledged delivery after the restart: the same secret verifies it
    // and its dedupe marker was kept.
    let (key, _, n) = &acknowledged[0];
    let body = push_of_commit(&template, *n);
    let (status, answer) = deliver(&http, &runner.base, &secret, key, &body).await.unwrap();
    assert_eq!((status, answer["duplicate"].as_bool()), (200, Some(true)), "{answer}");
    runner.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_pass_cut_by_a_kill_is_finished_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions {
        projects: 10_000,
        delay: Duration::from_millis(100),
        ..FakeOptions::default()
    })
    .await;
    let http = reqwest::Client::new();
    let runner = Runner::start(dir.path());
    let (integration, _) = runner.connect(&http, &gitlab).await;
    // Kill once the pass has checkpointed some of the projects (every 2 s) and is still walking.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail = runner
            .get(&http, &format!("/v1/integrations/{integration}"), &runner.token)
            .await;
        let seen = detail["sync"]["repositories_seen"].as_u64().unwrap_or(0);
        assert_eq!(
            detail["sync"]["state"], "running",
            "the pass ended before the kill: {detail}"
        );
        if seen > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the pass stored nothing: {detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.kill();

    let runner = Runner::start(dir.path());
    let sync = runner.settled_sync(&http, &integration).await;
    assert_eq!(sync["state"], "succeeded", "{sync}");
    let listed = runner
        .get(
            &http,
            &format!("/v1/integrations/{integration}/repositories?limit=1"),
            &runner.token,
        )
        .await;
    assert_eq!(listed["total"], 10_001, "every project is stored once");
    runner.kill();
}

/// With `TABLE_NAME` set the runner works on DynamoDB (moto here) and never opens the embedded
/// store, so it starts beside an embedded runner holding the same folder, and a second one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_mode_leaves_the_data_folder_alone_on_moto() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh, which starts moto");
    let dir = tempfile::tempdir().unwrap();
    let embedded = Runner::start(dir.path());
    assert!(
        embedded.serving_from.starts_with("embedded store"),
        "{}",
        embedded.serving_from
    );
    let table = format!("t-{}", uuid::Uuid::new_v4().simple());
    let aws = [("TABLE_NAME", table.as_str()), ("AWS_ENDPOINT_URL", endpoint.as_str())];
    let first = Runner::start_with(dir.path(), &aws);
    let second = Runner::start_with(dir.path(), &aws);
    for runner in [&first, &second] {
        assert_eq!(runner.serving_from, format!("DynamoDB table {table}"));
        let http = reqwest::Client::new();
        let listed = runner.get(&http, "/v1/integrations", &runner.token).await;
        assert!(listed["integrations"].is_array(), "{listed}");
    }
    // The embedded runner still holds its store, and its caller key is the one they share.
    let http = reqwest::Client::new();
    let listed = embedded.get(&http, "/v1/integrations", &first.token).await;
    assert!(listed["integrations"].is_array(), "{listed}");
}
