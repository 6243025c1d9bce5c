//! The runner as a child process (started, killed or stopped, and talked to over HTTP), a fake
//! GitLab holding the push fixture's project, and GitLab's push delivery: what the crash test
//! and the durable store's bench share.
// Each includer uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oore_local::fake_gitlab::{FakeGitLab, FakeOptions, FakeToken};
use serde_json::Value;

pub const PAT: &str = "glpat-crash-test";

/// GitLab's push payload (tests/fixtures/gitlab/webhooks/push.json; see the NOTICE there).
pub fn push_fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/gitlab/webhooks/push.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The push fixture with commit number `n` (each commit a build of its own), as sent.
pub fn push_of_commit(template: &Value, n: usize) -> Vec<u8> {
    let mut push = template.clone();
    push["after"] = Value::from(format!("{:040x}", n + 1));
    push["checkout_sha"] = push["after"].clone();
    serde_json::to_vec(&push).unwrap()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `oore-local serve` and the owner token it printed.
pub struct Runner {
    pub child: Child,
    pub base: String,
    pub token: String,
    /// From the spawn to the ready lines (the port bound, the store open).
    pub started_in: Duration,
    /// What the runner said it serves from (`embedded store in …`, `DynamoDB table …`).
    pub serving_from: String,
}

impl Runner {
    /// Starts the runner on `dir` and waits (bounded) for its ready lines.
    pub fn start(dir: &std::path::Path) -> Runner {
        Runner::start_with(dir, &[])
    }

    /// Starts the runner on `dir` with further settings (`TABLE_NAME` for AWS mode).
    pub fn start_with(dir: &std::path::Path, settings: &[(&str, &str)]) -> Runner {
        let port = free_port();
        let spawned = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_oore-local"))
            .arg("serve")
            .env("OORE_LISTEN", format!("127.0.0.1:{port}"))
            .env("OORE_LOCAL_DIR", dir)
            .env("RUST_LOG", "warn")
            // Two pages at a time: a pass over the crash test's projects outlasts a checkpoint.
            .env("SYNC_CONCURRENCY", "2")
            .env_remove("TABLE_NAME")
            .env_remove("AWS_ENDPOINT_URL")
            .envs(settings.iter().copied())
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
        let mut serving_from = String::new();
        let token = loop {
            let line = ready
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the runner prints its owner token");
            if let Some(store) = line.split(" (").nth(1).filter(|_| line.contains("listening on")) {
                serving_from = store.trim_end_matches(')').to_string();
            }
            if let Some(token) = line.trim().strip_prefix("export OORE_TOKEN=") {
                break token.to_string();
            }
        };
        Runner {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
            started_in: spawned.elapsed(),
            serving_from,
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(self) {
        drop(self);
    }

    /// SIGTERM, and waits for the runner to close its store and end.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
    }

    pub async fn get(&self, http: &reqwest::Client, path: &str, token: &str) -> Value {
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
    pub async fn connect(&self, http: &reqwest::Client, gitlab: &FakeGitLab) -> (String, String) {
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
    pub async fn settled_sync(&self, http: &reqwest::Client, integration: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(600);
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
    pub async fn all_pages(&self, http: &reqwest::Client, path: &str, key: &str) -> Vec<Value> {
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
pub async fn deliver(http: &reqwest::Client, base: &str, secret: &str, key: &str, body: &[u8]) -> Option<(u16, Value)> {
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

pub async fn fake_gitlab(options: FakeOptions) -> FakeGitLab {
    let gitlab = FakeGitLab::start(options, 0).await.unwrap();
    gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
    gitlab.state.add_project(&push_fixture()["project"]);
    gitlab
}
