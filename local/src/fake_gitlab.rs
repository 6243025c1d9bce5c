//! A fake GitLab built from real GitLab responses (`fixtures/`): users, token self-inspection,
//! version, project listings with GitLab's paging headers, single projects, project hooks (`fake_hooks`),
//! avatars, GitLab's error shapes, an OAuth provider (`fake_oauth`), and commit statuses and
//! deploy tokens (`fake_builds`).
//! Tests start it on a loopback port; `oore-local fake-gitlab` runs it on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const USER: &str = include_str!("../fixtures/gitlab/api/user.json");
const TOKEN_SELF: &str = include_str!("../fixtures/gitlab/api/personal-access-token.json");
const PROJECTS: &str = include_str!("../fixtures/gitlab/api/projects.json");

/// A 1×1 PNG, served as every project avatar.
pub const AVATAR_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// How a token the fake knows behaves.
#[derive(Debug, Clone)]
pub struct FakeToken {
    /// The GitLab user it acts as (the fixture user, with this id and username).
    pub user_id: u64,
    pub username: String,
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD`, or None for a token that never expires.
    pub expires_at: Option<String>,
    pub state: TokenState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Live,
    /// 401 `invalid_token` "Token is expired…".
    Expired,
    /// 401 `invalid_token` "Token was revoked…".
    Revoked,
}

impl FakeToken {
    /// A live token of the fixture user (id 1, john_smith) with `scopes`.
    pub fn live(scopes: &[&str]) -> Self {
        FakeToken {
            user_id: 1,
            username: "john_smith".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at: Some("2099-01-01".into()),
            state: TokenState::Live,
        }
    }
}

/// Settings of a fake GitLab.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Relative URL root, e.g. `/gitlab` (empty for none).
    pub prefix: String,
    /// How many projects the listing holds.
    pub projects: usize,
    /// Delay before every answer.
    pub delay: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            prefix: String::new(),
            projects: 3,
            delay: Duration::ZERO,
        }
    }
}

/// Shared state, readable by tests: counters and knobs.
pub struct FakeState {
    tokens: Mutex<HashMap<String, FakeToken>>,
    /// The project listing (`fake_projects`).
    pub projects: crate::fake_projects::FakeProjects,
    delay_ms: AtomicU64,
    /// The next N project-listing requests answer 429 with `Retry-After: 1`.
    rate_limit_next: AtomicU32,
    /// Answer every request with 503 (GitLab down).
    pub failing: std::sync::atomic::AtomicBool,
    pub project_requests: AtomicU64,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    base_url: Mutex<String>,
    /// Project id → its hooks (as GitLab answers them, plus the `token` GitLab never shows).
    pub(crate) hooks: Mutex<HashMap<u64, Vec<Value>>>,
    pub(crate) next_hook_id: AtomicU64,
    /// The status the hooks' URL answers GitLab's test deliveries with (a 2xx re-enables).
    pub hook_test_answer: std::sync::atomic::AtomicU16,
    /// `GET /projects/:id` requests served.
    pub project_lookups: AtomicU64,
    /// The OAuth provider (`/oauth/…`).
    pub oauth: crate::fake_oauth::FakeOAuth,
    /// Commit statuses and deploy tokens (`fake_builds`).
    pub builds: crate::fake_builds::FakeBuilds,
}

impl FakeState {
    /// Marks a known token revoked (GitLab's "Token was revoked" 401). False if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.set_token_state(token, TokenState::Revoked)
    }

    /// Marks a known token expired, as two hours passing would. False if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        self.set_token_state(token, TokenState::Expired)
    }

    pub fn token_state(&self, token: &str) -> Option<TokenState> {
        self.tokens.lock().unwrap().get(token).map(|t| t.state)
    }

    fn set_token_state(&self, token: &str, state: TokenState) -> bool {
        match self.tokens.lock().unwrap().get_mut(token) {
            Some(t) => {
                t.state = state;
                true
            }
            None => false,
        }
    }

    /// Adds one project built from `project` (e.g. the `project` object of a webhook fixture)
    /// on top of the listing template, so it has every field a listing has.
    pub fn add_project(&self, project: &Value) {
        let template: Vec<Value> = serde_json::from_str(PROJECTS).expect("projects fixture is JSON");
        let mut p = template[0].clone();
        for field in [
            "id",
            "name",
            "path_with_namespace",
            "default_branch",
            "web_url",
            "avatar_url",
        ] {
            if let Some(v) = project.get(field) {
                p[field] = v.clone();
            }
        }
        if let Some(level) = project.get("visibility_level").and_then(Value::as_u64) {
            p["visibility"] = json!(match level {
                20 => "public",
                10 => "internal",
                _ => "private",
            });
        }
        self.projects.add(p);
    }

    /// Removes every hook of a project, as someone deleting them at GitLab would.
    pub fn hooks_clear(&self, project_id: u64) {
        self.hooks.lock().unwrap().remove(&project_id);
    }

    /// The hooks of a project, with the secret each was given.
    pub fn hooks(&self, project_id: u64) -> Vec<Value> {
        self.hooks.lock().unwrap().get(&project_id).cloned().unwrap_or_default()
    }

    pub fn add_token(&self, token: &str, spec: FakeToken) {
        self.tokens.lock().unwrap().insert(token.to_string(), spec);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn rate_limit_next(&self, requests: u32) {
        self.rate_limit_next.store(requests, Ordering::SeqCst);
    }

    /// Replaces the listing with `count` projects generated from the fixture.
    pub fn set_projects(&self, count: usize) {
        let base = self.base_url.lock().unwrap().clone();
        self.projects.set_generated(count, &base);
    }

    /// Removes projects by id (a project deleted at GitLab).
    /// Changes a project as an edit at GitLab would (archive, rename, transfer).
    pub fn modify_project(&self, id: u64, change: impl FnOnce(&mut Value)) {
        self.projects.modify(id, change);
    }

    pub fn remove_projects(&self, ids: &[u64]) {
        self.projects.remove(ids);
    }

    pub fn project_count(&self) -> usize {
        self.projects.count()
    }
}

/// A running fake GitLab.
pub struct FakeGitLab {
    /// Base URL including the prefix, no trailing slash: what a user types as host_url.
    pub base_url: String,
    pub state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitLab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unauthorized_plain() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "401 Unauthorized"}))).into_response()
}

pub(crate) fn insufficient_scope(scope: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token.", "scope": scope})),
    )
        .into_response()
}

/// Finds the caller's token (`PRIVATE-TOKEN` or Bearer) and answers GitLab's 401s for bad ones.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the answer itself; the fake serves tests, not traffic"
)]
fn authenticate(state: &FakeState, headers: &HeaderMap) -> Result<FakeToken, Response> {
    let presented = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_string)
        });
    let Some(presented) = presented else {
        return Err(unauthorized_plain());
    };
    let Some(token) = state.tokens.lock().unwrap().get(&presented).cloned() else {
        return Err(unauthorized_plain());
    };
    match token.state {
        TokenState::Live => Ok(token),
        TokenState::Expired => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "Token is expired. You can either do re-authorization or token refresh."})),
        )
            .into_response()),
        TokenState::Revoked => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."})),
        )
            .into_response()),
    }
}

pub(crate) fn has_any(token: &FakeToken, scopes: &[&str]) -> bool {
    token.scopes.iter().any(|s| scopes.contains(&s.as_str()))
}

/// Applies the delay and the failure switch, and counts requests in flight.
async fn gate(state: &FakeState) -> Option<Response> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.failing.load(Ordering::SeqCst).then(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "503 Service Unavailable"})),
        )
            .into_response()
    })
}

/// The gate alone, for endpoints that authenticate their own way (OAuth).
pub(crate) async fn gate_only(state: &FakeState) -> Option<Response> {
    gate(state).await
}

/// The gate, then the token: what every authenticated endpoint does first.
pub(crate) async fn admit(state: &FakeState, headers: &HeaderMap) -> Result<FakeToken, Response> {
    if let Some(r) = gate(state).await {
        return Err(r);
    }
    authenticate(state, headers)
}

async fn user(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api", "read_api", "read_user"]) {
        return insufficient_scope("api read_user read_api");
    }
    let mut body: Value = serde_json::from_str(USER).expect("user fixture is JSON");
    body["id"] = json!(token.user_id);
    body["username"] = json!(token.username);
    Json(body).into_response()
}

async fn token_self(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let mut body: Value = serde_json::from_str(TOKEN_SELF).expect("token fixture is JSON");
    if let Some(map) = body.as_object_mut() {
        map.remove("token");
    }
    body["scopes"] = json!(token.scopes);
    body["user_id"] = json!(token.user_id);
    body["expires_at"] = json!(token.expires_at);
    Json(body).into_response()
}

async fn version(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    match admit(&state, &headers).await {
        Ok(_) => Json(json!({"version": "17.5.0-ee", "revision": "fake"})).into_response(),
        Err(r) => r,
    }
}

async fn projects(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    state.project_requests.fetch_add(1, Ordering::SeqCst);
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api", "read_api"]) {
        return insufficient_scope("api read_api");
    }
    let limited = state
        .rate_limit_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if limited {
        let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(json!({"message": "Retry later"}))).into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return response;
    }
    state.projects.list(&query)
}

pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "404 Project Not Found"}))).into_response()
}

pub(crate) fn find_project(state: &FakeState, id: u64) -> Option<Value> {
    state.projects.get(id)
}

async fn project(State(state): State<Arc<FakeState>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    state.project_lookups.fetch_add(1, Ordering::SeqCst);
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api", "read_api"]) {
        return insufficient_scope("api read_api");
    }
    find_project(&state, id)
        .map(|p| Json(p).into_response())
        .unwrap_or_else(not_found)
}

/// The hook as GitLab shows it: every field but the token.
async fn avatar(State(state): State<Arc<FakeState>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if let Err(r) = admit(&state, &headers).await {
        return r;
    }
    if !state.projects.contains(id) {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "404 Not Found"}))).into_response();
    }
    ([("content-type", "image/png")], AVATAR_PNG).into_response()
}

impl FakeGitLab {
    /// Starts on `127.0.0.1:port` (0 for any free port).
    pub async fn start(options: FakeOptions, port: u16) -> std::io::Result<FakeGitLab> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let prefix = options.prefix.trim_end_matches('/').to_string();
        let base_url = format!("http://{}{}", listener.local_addr()?, prefix);
        let state = Arc::new(FakeState {
            tokens: Mutex::new(HashMap::new()),
            projects: crate::fake_projects::FakeProjects::new(
                serde_json::from_str::<Vec<Value>>(PROJECTS).expect("projects fixture is JSON")[0].clone(),
            ),
            delay_ms: AtomicU64::new(options.delay.as_millis() as u64),
            rate_limit_next: AtomicU32::new(0),
            failing: Default::default(),
            project_requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            base_url: Mutex::new(base_url.clone()),
            hooks: Mutex::new(HashMap::new()),
            next_hook_id: AtomicU64::new(1),
            hook_test_answer: std::sync::atomic::AtomicU16::new(200),
            project_lookups: AtomicU64::new(0),
            oauth: Default::default(),
            builds: Default::default(),
        });
        state.set_projects(options.projects);
        let api = Router::new()
            .route("/api/v4/user", get(user))
            .route("/api/v4/personal_access_tokens/self", get(token_self))
            .route("/api/v4/version", get(version))
            .route("/api/v4/projects", get(projects))
            .route("/api/v4/projects/{id}", get(project))
            .route(
                "/api/v4/projects/{id}/hooks",
                get(crate::fake_hooks::list_hooks).post(crate::fake_hooks::create_hook),
            )
            .route(
                "/api/v4/projects/{id}/hooks/{hook_id}",
                get(crate::fake_hooks::get_hook)
                    .put(crate::fake_hooks::update_hook)
                    .delete(crate::fake_hooks::delete_hook),
            )
            .route(
                "/api/v4/projects/{id}/hooks/{hook_id}/test/{trigger}",
                post(crate::fake_hooks::test_hook),
            )
            .route("/uploads/-/system/project/avatar/{id}/avatar.png", get(avatar))
            .route(
                "/api/v4/projects/{id}/statuses/{sha}",
                post(crate::fake_builds::post_status),
            )
            .route(
                "/api/v4/projects/{id}/deploy_tokens",
                post(crate::fake_builds::create_deploy_token),
            )
            .route(
                "/api/v4/projects/{id}/deploy_tokens/{token_id}",
                axum::routing::delete(crate::fake_builds::revoke_deploy_token),
            )
            .route("/oauth/authorize", get(crate::fake_oauth::authorize))
            .route("/oauth/token", post(crate::fake_oauth::token))
            .route("/oauth/revoke", post(crate::fake_oauth::revoke))
            .with_state(state.clone());
        let app = if prefix.is_empty() {
            api
        } else {
            Router::new().nest(&prefix, api)
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeGitLab { base_url, state, task })
    }
}
