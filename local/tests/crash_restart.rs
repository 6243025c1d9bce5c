//! The runner killed with SIGKILL in the middle of deliveries, or of a sync pass, then started
//! again on the same data folder: every delivery it had answered 200 is in the log exactly once
//! with its trigger, the webhook secret and caller tokens still work, and the pass is finished.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oore_local::fake_gitlab::{FakeGitLab, FakeOptions, FakeToken};
use serde_json::Value;

const PAT: &str = "glpat-crash-test";

/// GitLab's push payload (tests/fixtures/gitlab/webhooks/push.json; see the NOTICE there).
fn push_fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/gitlab/webhooks/push.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `oore-local serve` and the owner token it printed.
struct Runner {
    child: Child,
    base: String,
    token: String,
}

impl Runner {
    /// Starts the runner on `dir` and waits (bounded) for its ready lines.
    fn start(dir: &std::path::Path) -> Runner {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_oore-local"))
            .arg("serve")
            .env("OORE_LISTEN", format!("127.0.0.1:{port}"))
            .env("OORE_LOCAL_DIR", dir)
            .env("RUST_LOG", "warn")
            // Two pages at a time: a pass over the crash test's projects outlasts a checkpoint.
            .env("SYNC_CONCURRENCY", "2")
            .env_remove("TABLE_NAME")
            .env_remove("AWS_ENDPOINT_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the runner starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let token = loop {
            let line = ready
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the runner prints its owner token");
            if let Some(token) = line.trim().strip_prefix("export OORE_TOKEN=") {
                break token.to_string();
            }
        };
        Runner {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(self) {
        drop(self);
    }

    async fn get(&self, http: &reqwest::Client, path: &str, token: &str) -> Value {
        let response = http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Connects the fake GitLab; answers the integration id and its webhook secret.
    async fn connect(&self, http: &reqwest::Client, gitlab: &FakeGitLab) -> (String, String) {
        let started: Value = http
            .post(format!("{}/v1/integrations/gitlab/start", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"host_url": gitlab.base_url, "auth_mode": "personal_token", "access_token": PAT}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            started["integration"]["id"].as_str().expect("connected").to_string(),
            started["webhook_secret"].as_str().unwrap().to_string(),
        )
    }

    /// Waits (bounded) until the integration's sync pass is no longer running; answers its view.
    async fn settled_sync(&self, http: &reqwest::Client, integration: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let detail = self
                .get(http, &format!("/v1/integrations/{integration}"), &self.token)
                .await;
            if detail["sync"]["state"] != "running" {
                return detail["sync"].clone();
            }
            assert!(Instant::now() < deadline, "the pass did not end: {detail}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every entry of a paged listing (`key` holds the page's items).
    async fn all_pages(&self, http: &reqwest::Client, path: &str, key: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page_path = match &cursor {
                Some(c) => format!("{path}{separator}cursor={c}"),
                None => path.to_string(),
            };
            let page = self.get(http, &page_path, &self.token).await;
            items.extend(page[key].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }
}

impl Drop for Runner {
    /// A test that fails leaves no runner behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one push delivery; answers its trigger id when the runner answered 200.
async fn deliver(http: &reqwest::Client, base: &str, secret: &str, key: &str, body: &[u8]) -> Option<(u16, Value)> {
    let response = http
        .post(format!("{base}/v1/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Push Hook")
        .header("x-gitlab-token", secret)
        .header("x-gitlab-event-uuid", key)
        .header("idempotency-key", key)
        .body(body.to_vec())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

async fn fake_gitlab(options: FakeOptions) -> FakeGitLab {
    let gitlab = FakeGitLab::start(options, 0).await.unwrap();
    gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
    gitlab.state.add_project(&push_fixture()["project"]);
    gitlab
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_answered_before_a_kill_are_kept_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let gitlab = fake_gitlab(FakeOptions::default()).await;
    let http = reqwest::Client::new();
    let runner = Runner::start(dir.path());
    let (integration, secret) = runner.connect(&http, &gitlab).await;
    runner.settled_sync(&http, &integration).await;

    // Eight senders deliver until the runner dies under them.
    let body = Arc::new(serde_json::to_vec(&push_fixture()).unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (http, base, secret, body, answered) = (
                http.clone(),
                runner.base.clone(),
                secret.clone(),
                body.clone(),
                answered.clone(),
            );
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for _ in 0..2_000 {
                    let key = uuid::Uuid::new_v4().to_string();
                    match deliver(&http, &base, &secret, &key, &body).await {
                        Some((200, answer)) => {
                            let trigger = answer["trigger_id"].as_str().expect("a push triggers").to_string();
                            acknowledged.push((key, trigger));
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
    for (key, trigger) in &acknowledged {
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
    let (key, _) = &acknowledged[0];
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
