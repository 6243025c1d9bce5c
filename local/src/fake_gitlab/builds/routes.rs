//! The fake build endpoints: commit statuses and deploy tokens.

use crate::fake_gitlab::access::{admit, find_project, has_any, insufficient_scope, not_found};
use crate::fake_gitlab::builds::{IssuedDeployToken, PostedStatus};
use crate::fake_gitlab::state::FakeState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn text(body: &Value, field: &str) -> Option<String> {
    body.get(field).and_then(Value::as_str).map(str::to_string)
}

pub(crate) async fn post_status(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((project_id, sha)): Path<(u64, String)>,
    Json(body): Json<Value>,
) -> Response {
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api"]) {
        return insufficient_scope("api");
    }
    if find_project(&state, project_id).is_none() {
        return not_found();
    }
    let builds = &state.builds;
    if builds
        .fail_statuses
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "503 Service Unavailable"})),
        )
            .into_response();
    }
    let Some(new_state) = text(&body, "state")
        .filter(|s| ["pending", "running", "success", "failed", "canceled", "skipped"].contains(&s.as_str()))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "state does not have a valid value"})),
        )
            .into_response();
    };
    let pipeline_id = body.get("pipeline_id").and_then(Value::as_u64);
    if pipeline_id.is_some_and(|p| builds.refused_pipelines.lock().unwrap().contains(&p)) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "404 Pipeline Not Found"})),
        )
            .into_response();
    }
    let name = text(&body, "name").unwrap_or_else(|| "default".into());
    let mut statuses = builds.statuses.lock().unwrap();
    let latest = (project_id, sha.clone(), name.clone());
    if statuses.latest.get(&latest) == Some(&new_state) {
        let message = format!("Cannot transition status via :{new_state} from :{new_state}");
        return (StatusCode::BAD_REQUEST, Json(json!({"message": message}))).into_response();
    }
    let posted = PostedStatus {
        project_id,
        sha: sha.clone(),
        state: new_state,
        name,
        git_ref: text(&body, "ref"),
        target_url: text(&body, "target_url"),
        description: text(&body, "description"),
        pipeline_id,
    };
    statuses.latest.insert(latest, posted.state.clone());
    statuses.posted.push(posted.clone());
    let answer = json!({
        "id": statuses.posted.len(),
        "sha": sha,
        "ref": posted.git_ref,
        "status": posted.state,
        "name": posted.name,
        "target_url": posted.target_url,
        "description": posted.description,
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// Deploy tokens need the api scope and the Maintainer role.
async fn admit_maintainer(state: &FakeState, headers: &HeaderMap, project_id: u64) -> Option<Response> {
    let token = match admit(state, headers).await {
        Ok(t) => t,
        Err(r) => return Some(r),
    };
    if !has_any(&token, &["api"]) {
        return Some(insufficient_scope("api"));
    }
    if find_project(state, project_id).is_none() {
        return Some(not_found());
    }
    if state.builds.developer_only.lock().unwrap().contains(&project_id) {
        return Some((StatusCode::FORBIDDEN, Json(json!({"message": "403 Forbidden"}))).into_response());
    }
    None
}

pub(crate) async fn create_deploy_token(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(project_id): Path<u64>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refusal) = admit_maintainer(&state, &headers, project_id).await {
        return refusal;
    }
    let scopes: Vec<String> = body
        .get("scopes")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let (Some(name), false) = (text(&body, "name"), scopes.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "name, scopes are missing"})),
        )
            .into_response();
    };
    let id = state.builds.next_token_id.fetch_add(1, Ordering::SeqCst) + 1;
    let issued = IssuedDeployToken {
        id,
        project_id,
        name: name.clone(),
        scopes: scopes.clone(),
        expires_at: text(&body, "expires_at"),
        revoked: false,
    };
    state.builds.tokens.lock().unwrap().insert(id, issued.clone());
    let answer = json!({
        "id": id,
        "name": name,
        "username": format!("gitlab+deploy-token-{id}"),
        "expires_at": issued.expires_at,
        "scopes": scopes,
        "revoked": false,
        "expired": false,
        "token": format!("gldt-fake{id:016}"),
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(crate) async fn revoke_deploy_token(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((project_id, token_id)): Path<(u64, u64)>,
) -> Response {
    if let Some(refusal) = admit_maintainer(&state, &headers, project_id).await {
        return refusal;
    }
    let mut tokens = state.builds.tokens.lock().unwrap();
    match tokens
        .get_mut(&token_id)
        .filter(|t| t.project_id == project_id && !t.revoked)
    {
        Some(token) => {
            token.revoked = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "404 Deploy Token Not Found"})),
        )
            .into_response(),
    }
}
