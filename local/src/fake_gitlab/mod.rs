//! A fake GitLab built from real GitLab responses (`fixtures/`): users, token self-inspection,
//! version, project listings with GitLab's paging headers, single projects, project hooks (`hooks`),
//! avatars, GitLab's error shapes, an OAuth provider (`oauth`), commit statuses and deploy
//! tokens (`builds`), project members and merge request notes (`merge_requests`), and groups
//! with their hooks (`groups`).
//! Tests start it on a loopback port; `oore-local fake-gitlab` runs it on its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a fake GitLab may panic on what a test got wrong"
)]

pub mod access;
pub mod builds;
pub mod groups;
mod hook_lists;
pub mod hooks;
pub mod merge_requests;
pub mod oauth;
pub mod projects;
pub mod rate_limit;
pub mod state;

pub use state::{FakeOptions, FakeState, FakeToken, TokenState};

use crate::fake_gitlab::access::{admit, find_project, has_any, insufficient_scope, not_found};
use crate::fake_gitlab::state::{PROJECTS, TOKEN_SELF, USER};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A 1×1 PNG, served as every project avatar.
pub const AVATAR_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

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

/// A project's avatar image.
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
            projects: projects::FakeProjects::new(
                serde_json::from_str::<Vec<Value>>(PROJECTS).expect("projects fixture is JSON")[0].clone(),
            ),
            delay_ms: AtomicU64::new(options.delay.as_millis() as u64),
            rate_limit_next: AtomicU32::new(0),
            failing: Default::default(),
            failure_percent: AtomicU32::new(0),
            failed_at_random: AtomicU64::new(0),
            project_requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            base_url: Mutex::new(base_url.clone()),
            hooks: Mutex::new(HashMap::new()),
            next_hook_id: AtomicU64::new(1),
            hook_test_answer: std::sync::atomic::AtomicU16::new(0),
            project_lookups: AtomicU64::new(0),
            oauth: Default::default(),
            builds: Default::default(),
            merge_requests: Default::default(),
            groups: Default::default(),
            rate: Default::default(),
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
                get(hooks::list_hooks).post(hooks::create_hook),
            )
            .route(
                "/api/v4/projects/{id}/hooks/{hook_id}",
                get(hooks::get_hook).put(hooks::update_hook).delete(hooks::delete_hook),
            )
            .route(
                "/api/v4/projects/{id}/hooks/{hook_id}/test/{trigger}",
                post(hooks::test_hook),
            )
            .route("/uploads/-/system/project/avatar/{id}/avatar.png", get(avatar))
            .route(
                "/api/v4/projects/{id}/statuses/{sha}",
                post(builds::routes::post_status),
            )
            .route(
                "/api/v4/projects/{id}/deploy_tokens",
                post(builds::routes::create_deploy_token),
            )
            .route(
                "/api/v4/projects/{id}/deploy_tokens/{token_id}",
                axum::routing::delete(builds::routes::revoke_deploy_token),
            )
            .route(
                "/api/v4/projects/{id}/members/all/{user_id}",
                get(merge_requests::member),
            )
            .route(
                "/api/v4/projects/{id}/merge_requests/{iid}/notes",
                post(merge_requests::create_note),
            )
            .route(
                "/api/v4/projects/{id}/merge_requests/{iid}/notes/{note_id}",
                axum::routing::put(merge_requests::edit_note),
            )
            .route("/api/v4/groups/{id}", get(groups::group))
            .route(
                "/api/v4/groups/{id}/hooks",
                get(groups::list_hooks).post(groups::create_hook),
            )
            .route(
                "/api/v4/groups/{id}/hooks/{hook_id}",
                get(groups::get_hook)
                    .put(groups::update_hook)
                    .delete(groups::delete_hook),
            )
            .route(
                "/api/v4/groups/{id}/hooks/{hook_id}/test/{trigger}",
                post(groups::test_hook),
            )
            .route("/oauth/authorize", get(oauth::routes::authorize))
            .route("/oauth/token", post(oauth::routes::token))
            .route("/oauth/revoke", post(oauth::routes::revoke))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limit::limit_rate,
            ))
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
