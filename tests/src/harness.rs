//! The harness: an app on one of three backends with a fake GitLab and a clock, and a client that
//! sends requests through the handlers the way API Gateway hands them over.

use crate::fakes::TestClock;
use crate::moto::{MASTER_KEY, moto_endpoint, moto_sdk, moto_sdk_at, moto_table};
use http::Method;
use lambda_http::Body;
use oore_local::fake_gitlab::{FakeGitLab, FakeOptions, FakeToken};
use secrecy::SecretString;
use serde_json::Value;
use shared::config::Config;
use shared::inbound::http::App;
use shared::inbound::http::auth::{Role, issue_token};
use shared::ports::{Clock, GitLabApi};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

pub const SIGNING_KEY: &str = "test-signing-key-0123456789abcdef";

/// 2026-11-26T00:00:00Z.
pub const START_TIME: i64 = 1_795_651_200;

pub fn test_config(table: &str) -> Config {
    test_config_with(table, &format!("test-{}/", uuid::Uuid::new_v4().simple()))
}

/// The test settings on `table`, with secret names under `prefix` (processes that share an
/// integration's secrets pass the same one).
pub fn test_config_with(table: &str, prefix: &str) -> Config {
    test_config_set(table, prefix, &[])
}

/// The test settings, with `settings` (environment names and values) added or replaced.
pub fn test_config_set(table: &str, prefix: &str, settings: &[(&str, &str)]) -> Config {
    let given = |name: &str| settings.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    Config::from_lookup(|name| {
        given(name).or_else(|| match name {
            "TABLE_NAME" => Some(table.to_string()),
            "SECRET_PREFIX" => Some(prefix.to_string()),
            "CALLER_KEY_SECRET_ID" => Some(format!("{prefix}caller-key")),
            "MASTER_KEY_SECRET_ID" => Some(format!("{prefix}master-key")),
            "PUBLIC_BASE_URL" => Some("https://oore.example.com".into()),
            "GITLAB_HTTP_LOOPBACK" => Some("true".into()),
            "ALLOWED_UI_ORIGINS" => Some("https://ui.example.com".into()),
            _ => None,
        })
    })
    .expect("test settings are complete")
}

/// A fresh data folder and the local runner's durable store and vault opened on it; the folder
/// is removed when the first value is dropped.
pub fn local_data() -> (tempfile::TempDir, shared::adapters::embedded::LocalData) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = shared::adapters::embedded::LocalData::open(dir.path()).expect("the data folder opens");
    (dir, data)
}

/// Which adapters an app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory adapters.
    Memory,
    /// The local runner's durable store and sealed vault, on a data folder of the harness's own.
    Embedded,
    Moto,
}

impl Backend {
    /// The backend `on_backends!` names `memory`, `embedded` or `moto`.
    pub fn named(name: &str) -> Backend {
        match name {
            "memory" => Backend::Memory,
            "embedded" => Backend::Embedded,
            "moto" => Backend::Moto,
            other => panic!("no backend is called {other}"),
        }
    }
}

/// An app, a fake GitLab it talks to, and a clock.
pub struct Harness {
    pub app: App,
    pub gitlab: FakeGitLab,
    pub clock: Arc<TestClock>,
    pub backend: Backend,
    /// The AWS calls the app's clients made (moto only).
    pub aws_calls: Option<shared::adapters::aws_calls::AwsCallCounter>,
    /// The data folder of the embedded backend, removed with the harness.
    pub data_dir: Option<tempfile::TempDir>,
}

/// The token every test connects with: the fixture user, api scope.
pub const PAT: &str = "glpat-test-api";

impl Harness {
    pub async fn new(backend: Backend, options: FakeOptions) -> Harness {
        Self::with_settings(backend, options, &[]).await
    }

    /// An app whose settings add `settings` (environment names and values) to the tests' own.
    pub async fn with_settings(backend: Backend, options: FakeOptions, settings: &[(&str, &str)]) -> Harness {
        let gitlab = FakeGitLab::start(options, 0).await.expect("fake GitLab starts");
        gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
        let client: Arc<dyn GitLabApi> = shared::wiring::gitlab_client();
        Self::with_gitlab_via(backend, gitlab, client, None, settings).await
    }

    /// An app whose GitLab client is `client` (tests wrap it to count or break calls).
    pub async fn with_gitlab(backend: Backend, gitlab: FakeGitLab, client: Arc<dyn GitLabApi>) -> Harness {
        Self::with_gitlab_via(backend, gitlab, client, None, &[]).await
    }

    /// An app on moto reached through `endpoint` (a proxy in front of moto), the fake GitLab
    /// holding [`PAT`].
    pub async fn on_moto_via(endpoint: &str, options: FakeOptions) -> Harness {
        let gitlab = FakeGitLab::start(options, 0).await.expect("fake GitLab starts");
        gitlab.state.add_token(PAT, FakeToken::live(&["api"]));
        Self::with_gitlab_via(
            Backend::Moto,
            gitlab,
            shared::wiring::gitlab_client(),
            Some(endpoint),
            &[],
        )
        .await
    }

    async fn with_gitlab_via(
        backend: Backend,
        gitlab: FakeGitLab,
        client: Arc<dyn GitLabApi>,
        endpoint: Option<&str>,
        settings: &[(&str, &str)],
    ) -> Harness {
        let prefix = format!("test-{}/", uuid::Uuid::new_v4().simple());
        let config = |table: &str| test_config_set(table, &prefix, settings);
        let clock = Arc::new(TestClock(AtomicI64::new(START_TIME)));
        let key = SecretString::from(SIGNING_KEY.to_string());
        let mut aws_calls = None;
        let mut data_dir = None;
        let app = match backend {
            Backend::Embedded => {
                let (dir, data) = local_data();
                data_dir = Some(dir);
                shared::wiring::local_app(config("embedded"), client, clock.clone(), &key, data)
                    .await
                    .expect("the embedded app starts")
            }
            Backend::Memory => shared::wiring::memory_app(config("memory"), client, clock.clone(), &key)
                .await
                .expect("a fresh memory vault takes the keys"),
            Backend::Moto => {
                let sdk = moto_sdk_at(&endpoint.map_or_else(moto_endpoint, str::to_string)).await;
                let config = config(&moto_table(&sdk).await);
                let (app, counter) = shared::wiring::aws_app_counted(&sdk, config, client, clock.clone());
                app.services
                    .vault
                    .create_secret(&app.services.config.caller_key_secret_id, &key)
                    .await
                    .expect("moto stores the signing key");
                app.services
                    .vault
                    .create_secret(
                        &app.services.config.master_key_secret_id,
                        &SecretString::from(MASTER_KEY.to_string()),
                    )
                    .await
                    .expect("moto stores the webhook key");
                aws_calls = Some(counter);
                app
            }
        };
        Harness {
            app,
            gitlab,
            clock,
            backend,
            aws_calls,
            data_dir,
        }
    }

    /// Every trigger of an integration, oldest first.
    pub async fn triggers_of(
        &self,
        integration: &shared::domain::ids::IntegrationId,
    ) -> Vec<shared::domain::trigger::Trigger> {
        let filter = shared::ports::TriggerFilter {
            status: None,
            integration_id: Some(integration.clone()),
        };
        self.app
            .services
            .triggers
            .list_triggers(&filter, None, 1000)
            .await
            .expect("the store lists triggers")
    }

    pub fn token(&self, role: Role) -> String {
        self.token_for(role, "user-1")
    }

    /// A caller token for `role` acting as `user` (`sub`).
    pub fn token_for(&self, role: Role, user: &str) -> String {
        let c = &self.app.services.config;
        issue_token(
            &SecretString::from(SIGNING_KEY.to_string()),
            user,
            role,
            &c.token_issuer,
            &c.token_audience,
            self.clock.now(),
            3600,
        )
        .expect("the test key is 32 bytes or more")
    }

    /// Sends a request as `role` (None: no Authorization header) and returns status and JSON body.
    pub async fn call(&self, method: Method, path: &str, role: Option<Role>, body: Option<&str>) -> (u16, Value) {
        let (status, _, bytes) = self
            .raw(
                method,
                path,
                role.map(|r| self.token(r)).as_deref(),
                body.map(|b| b.as_bytes().to_vec()),
            )
            .await;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    /// A second application on the same table and secrets, as another warm Lambda would be: its
    /// own secret cache, the same GitLab and clock (moto only).
    pub async fn second_app(&self) -> App {
        assert_eq!(self.backend, Backend::Moto, "only moto's table can be shared");
        let sdk = moto_sdk().await;
        let config = (*self.app.services.config).clone();
        shared::wiring::aws_app_with(&sdk, config, shared::wiring::gitlab_client(), self.clock.clone())
    }

    /// Sends a request as `role` to another application (see [`Harness::second_app`]).
    pub async fn call_on(&self, app: &App, method: Method, path: &str, role: Role, body: Option<&str>) -> (u16, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"))
            .header("authorization", format!("Bearer {}", self.token(role)))
            .body(body.map(|b| Body::Text(b.to_string())).unwrap_or(Body::Empty))
            .expect("request builds");
        let response = app.handle(request).await;
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null),
        )
    }

    /// Sends a request with a bearer token and returns status and JSON body.
    pub async fn call_with(&self, method: Method, path: &str, bearer: &str, body: Option<&str>) -> (u16, Value) {
        let (status, _, bytes) = self
            .raw(method, path, Some(bearer), body.map(|b| b.as_bytes().to_vec()))
            .await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// The same with a raw bearer token and body; returns status, headers and body bytes.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, http::HeaderMap, Vec<u8>) {
        let authorization = bearer.map(|token| ("authorization".to_string(), format!("Bearer {token}")));
        self.send(method, path, authorization.as_slice(), body).await
    }

    /// A request with any headers (GitLab's webhook headers); returns status, headers and body bytes.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> (u16, http::HeaderMap, Vec<u8>) {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"));
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(body.map(Body::Binary).unwrap_or(Body::Empty))
            .expect("request builds");
        let response = self.app.handle(request).await;
        let (parts, body) = response.into_parts();
        let bytes = match body {
            Body::Empty => Vec::new(),
            Body::Text(t) => t.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        (parts.status.as_u16(), parts.headers, bytes)
    }

    /// Waits (bounded) until the integration's sync pass ended, so background work does not
    /// mix with what a test measures next.
    pub async fn sync_settled(&self, integration_id: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (_, detail) = self
                .call(
                    Method::GET,
                    &format!("/v1/integrations/{integration_id}"),
                    Some(Role::Owner),
                    None,
                )
                .await;
            if detail["sync"]["state"] != "running" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the sync pass did not end: {detail}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `POST /v1/integrations/{id}/installations` as the owner, which must answer 200, then waits
    /// until the pass it started or joined has ended.
    pub async fn sync_and_settle(&self, integration_id: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/v1/integrations/{integration_id}/installations"),
                Some(Role::Owner),
                Some("{}"),
            )
            .await;
        assert_eq!(status, 200, "the sync call failed: {body}");
        self.sync_settled(integration_id).await;
    }

    /// Connects the fake GitLab with [`PAT`]; returns the start response once the first sync
    /// pass that a worker took up has ended (connect itself waits only two seconds, which a
    /// loaded machine running moto may not meet).
    pub async fn connect(&self) -> Value {
        let body =
            serde_json::json!({"host_url": self.gitlab.base_url, "auth_mode": "personal_token", "access_token": PAT})
                .to_string();
        let (status, json) = self
            .call(
                Method::POST,
                "/v1/integrations/gitlab/start",
                Some(Role::Owner),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "connect failed: {json}");
        self.worked_pass_ended(json["integration"]["id"].as_str().unwrap())
            .await;
        json
    }

    /// Waits (bounded) while the integration's pass is held by a worker — or was just started
    /// and a worker has yet to take it. A pass no worker takes (a test holding its jobs) is left.
    async fn worked_pass_ended(&self, integration_id: &str) {
        let id = integration_id.into();
        let started = std::time::Instant::now();
        loop {
            let record = self
                .app
                .services
                .syncs
                .get_sync(&id)
                .await
                .expect("the sync record reads");
            let running = record
                .as_ref()
                .is_some_and(|r| r.state == shared::domain::sync::SyncRunState::Running);
            let worked = record.as_ref().is_some_and(|r| r.lease_owner.is_some());
            let elapsed = started.elapsed();
            if !running || (!worked && elapsed > std::time::Duration::from_secs(3)) {
                return;
            }
            assert!(
                elapsed < std::time::Duration::from_secs(60),
                "the first sync pass did not end"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The OAuth application the tests register in the fake GitLab.
pub const CLIENT_ID: &str = "app-client-id";

pub const CLIENT_SECRET: &str = "gloas-app-client-secret";

/// The OAuth redirect URI under the tests' PUBLIC_BASE_URL.
pub const CALLBACK_URL: &str = "https://oore.example.com/v1/integrations/gitlab/callback";
/// Where authorizations send the browser back to (an allowed UI origin in [`test_config`]).
pub const UI_REDIRECT: &str = "https://ui.example.com/settings/integrations?tab=gitlab";

impl Harness {
    /// Registers the OAuth application at the fake GitLab and connects it in oauth_app mode;
    /// returns the integration id.
    pub async fn connect_oauth(&self) -> String {
        self.gitlab.state.oauth.add_app(CLIENT_ID, CLIENT_SECRET, CALLBACK_URL);
        let body = serde_json::json!({"host_url": self.gitlab.base_url, "auth_mode": "oauth_app", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).to_string();
        let (status, json) = self
            .call(
                Method::POST,
                "/v1/integrations/gitlab/start",
                Some(Role::Owner),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "oauth connect failed: {json}");
        json["integration"]["id"].as_str().unwrap().to_string()
    }

    /// Asks for an authorize URL and follows it at the fake GitLab the way a browser would;
    /// returns the callback path and query GitLab redirected to.
    pub async fn authorize_at_gitlab(&self, integration_id: &str) -> String {
        let body = serde_json::json!({"integration_id": integration_id, "redirect_url": UI_REDIRECT}).to_string();
        let (status, json) = self
            .call(
                Method::POST,
                "/v1/integrations/gitlab/authorize",
                Some(Role::Owner),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "authorize failed: {json}");
        let authorize_url = json["authorize_url"].as_str().unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client.get(authorize_url).send().await.expect("the fake GitLab answers");
        assert_eq!(response.status().as_u16(), 302, "GitLab redirects back");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let callback = CALLBACK_URL;
        assert!(
            location.starts_with(callback),
            "GitLab redirects to the registered callback: {location}"
        );
        location.trim_start_matches("https://oore.example.com").to_string()
    }
}
