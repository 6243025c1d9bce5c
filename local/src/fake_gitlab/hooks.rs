//! The fake GitLab's project hooks: list, read one, create, update, delete; GitLab's health
//! fields (`alert_status`, `disabled_until`), which tests set; and the test delivery, which
//! sends a push of the project to the hook's URL with the hook's token and re-enables the hook
//! when the URL answers 2xx (a test whose service has no address sets the answer instead:
//! `FakeState::hook_test_answer`).

use crate::fake_gitlab::access::{admit, find_project, has_any, insufficient_scope, not_found};
use crate::fake_gitlab::hook_lists::{self, hook_not_found, shown};
use crate::fake_gitlab::state::FakeState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Hooks need the api scope (and Maintainer, which the fake's user always is).
async fn admit_hooks(state: &FakeState, headers: &HeaderMap, project_id: u64) -> Result<(), Response> {
    let token = admit(state, headers).await?;
    if !has_any(&token, &["api"]) {
        return Err(insufficient_scope("api"));
    }
    if find_project(state, project_id).is_none() {
        return Err(not_found());
    }
    Ok(())
}

pub(crate) async fn list_hooks(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    Json(state.hooks(id).iter().map(shown).collect::<Vec<_>>()).into_response()
}

fn hook_from(id: u64, project_id: u64, body: &Value) -> Value {
    json!({
        "id": id,
        "url": body["url"],
        "project_id": project_id,
        "push_events": body["push_events"].as_bool().unwrap_or(true),
        "tag_push_events": body["tag_push_events"].as_bool().unwrap_or(false),
        "merge_requests_events": body["merge_requests_events"].as_bool().unwrap_or(false),
        "note_events": body["note_events"].as_bool().unwrap_or(false),
        "enable_ssl_verification": body["enable_ssl_verification"].as_bool().unwrap_or(true),
        "resource_access_token_events": body["resource_access_token_events"].as_bool().unwrap_or(false),
        "alert_status": "executable",
        "disabled_until": null,
        "created_at": "2026-11-26T00:00:00.000Z",
        "token": body["token"],
    })
}

pub(crate) async fn create_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::create(&state.hooks, &state.next_hook_id, id, &body, |hook_id| {
        hook_from(hook_id, id, &body)
    })
}

pub(crate) async fn update_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::replace(&state.hooks, id, hook_id, hook_from(hook_id, id, &body))
}

pub(crate) async fn delete_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::remove(&state.hooks, id, hook_id)
}

/// Adds a hook someone else made (not through us), as GitLab would list it.
pub fn add_foreign_hook(state: &FakeState, project_id: u64, url: &str) -> u64 {
    let id = state.next_hook_id.fetch_add(1, Ordering::SeqCst);
    let hook = hook_from(id, project_id, &json!({"url": url, "token": "someone-elses"}));
    state.hooks.lock().unwrap().entry(project_id).or_default().push(hook);
    id
}

pub(crate) async fn get_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    match hook_lists::find(&state.hooks, id, hook_id) {
        Some(hook) => Json(shown(&hook)).into_response(),
        None => hook_not_found(),
    }
}

/// GitLab's test delivery: the hook's URL answers (here: `hook_test_answer`); a 2xx re-enables
/// a disabled hook and answers 201, anything else answers 422 and leaves it as it was.
pub(crate) async fn test_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id, trigger)): Path<(u64, u64, String)>,
) -> Response {
    if let Err(r) = admit_hooks(&state, &headers, id).await {
        return r;
    }
    if !matches!(
        trigger.as_str(),
        "push_events" | "tag_push_events" | "merge_requests_events" | "resource_access_token_events"
    ) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "trigger does not have a valid value"})),
        )
            .into_response();
    }
    let Some(hook) = hook_lists::find(&state.hooks, id, hook_id) else {
        return hook_not_found();
    };
    let (url, token) = (
        hook["url"].as_str().unwrap_or_default(),
        hook["token"].as_str().unwrap_or_default(),
    );
    let answered = match state.hook_test_answer.load(Ordering::SeqCst) {
        0 => deliver_test_push(&state, id, url, token).await,
        set => Ok(set),
    };
    let answered = match answered {
        Ok(status) if (200..300).contains(&status) => status,
        Ok(status) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"message": format!("[{status}] the hook answered the test with {status}")})),
            )
                .into_response();
        }
        Err(why) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"message": format!("Hook execution failed: {why}")})),
            )
                .into_response();
        }
    };
    hook_lists::set_alert(&state.hooks, id, hook_id, "executable", None);
    tracing::debug!(answered, "a hook's test delivery was answered");
    (StatusCode::CREATED, Json(json!({"message": "201 Created"}))).into_response()
}

/// GitLab's test delivery for push events: a push of the project's default branch, sent to the
/// hook's URL with its token as GitLab sends hook deliveries. Answers the status the URL gave.
pub(crate) async fn deliver_test_push(
    state: &FakeState,
    project_id: u64,
    url: &str,
    token: &str,
) -> Result<u16, String> {
    let project = find_project(state, project_id).ok_or("the project is gone")?;
    let branch = project["default_branch"].as_str().unwrap_or("main").to_string();
    let commit = format!("{:040x}", u128::from(project_id) << 64 | 0x7e57);
    let push = json!({
        "object_kind": "push",
        "event_name": "push",
        "before": "0000000000000000000000000000000000000000",
        "after": commit,
        "ref": format!("refs/heads/{branch}"),
        "checkout_sha": commit,
        "user_username": "root",
        "project_id": project_id,
        "project": project,
        "commits": [],
        "total_commits_count": 0,
    });
    let uuid = uuid::Uuid::new_v4().to_string();
    let answer = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Push Hook")
        .header("x-gitlab-token", token)
        .header("x-gitlab-event-uuid", &uuid)
        .header("idempotency-key", &uuid)
        .timeout(std::time::Duration::from_secs(10))
        .json(&push)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer.status().as_u16())
}

/// Sets a hook's health as GitLab would after failed deliveries: `temporarily_disabled` with a
/// `disabled_until`, or `disabled`.
pub fn set_hook_alert(state: &FakeState, project_id: u64, hook_id: u64, status: &str, until: Option<&str>) {
    hook_lists::set_alert(&state.hooks, project_id, hook_id, status, until);
}

/// The delivery GitLab sends a project's hooks 7 days before a project access token expires
/// (`object_kind: access_token`, `event_name: expiring_access_token`; header
/// `X-Gitlab-Event: Resource Access Token Hook`).
pub fn access_token_event(project_id: u64, token_id: u64, expires_at: &str) -> Value {
    json!({
        "object_kind": "access_token",
        "project": {"id": project_id},
        "object_attributes": {
            "user_id": 1,
            "created_at": "2026-10-01 09:00:00 UTC",
            "id": token_id,
            "name": "ci",
            "expires_at": expires_at
        },
        "event_name": "expiring_access_token"
    })
}
