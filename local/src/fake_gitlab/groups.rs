//! The fake GitLab's groups and group hooks, in GitLab's documented shapes and refusals: groups
//! with subgroups (`GET /groups/:id`), and hooks on them (list, read one, create, update,
//! delete, test delivery). Group hooks are a Premium feature needing Owner on the group: a group
//! a test marks Free answers 403, an unknown group 404. Tests add groups and set hooks' health.

use crate::fake_gitlab::access::{admit, has_any, insufficient_scope};
use crate::fake_gitlab::hook_lists::{self, HookLists, hook_not_found, shown};
use crate::fake_gitlab::hooks::deliver_test_push;
use crate::fake_gitlab::state::FakeState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// One group as a test made it.
#[derive(Debug, Clone)]
struct FakeGroup {
    full_path: String,
    parent_id: Option<u64>,
    /// Free tier: no group hooks.
    free: bool,
}

#[derive(Default)]
pub struct FakeGroups {
    groups: Mutex<HashMap<u64, FakeGroup>>,
    /// group id → its hooks, as GitLab holds them (with their tokens).
    hooks: HookLists,
}

impl FakeGroups {
    /// Adds group `id` at `full_path` (`parent/child` for a subgroup of `parent_id`).
    pub fn add(&self, id: u64, full_path: &str, parent_id: Option<u64>) {
        let group = FakeGroup {
            full_path: full_path.to_string(),
            parent_id,
            free: false,
        };
        self.groups.lock().unwrap().insert(id, group);
    }

    /// Puts a group on the Free tier, where GitLab refuses group hooks.
    pub fn make_free(&self, id: u64) {
        if let Some(group) = self.groups.lock().unwrap().get_mut(&id) {
            group.free = true;
        }
    }

    /// A group's hooks as GitLab holds them, tokens included.
    pub fn hooks(&self, group_id: u64) -> Vec<Value> {
        self.hooks.lock().unwrap().get(&group_id).cloned().unwrap_or_default()
    }

    /// Sets a hook's health as GitLab would after failed deliveries.
    pub fn set_alert(&self, group_id: u64, hook_id: u64, status: &str, until: Option<&str>) {
        hook_lists::set_alert(&self.hooks, group_id, hook_id, status, until);
    }

    fn group_json(&self, id: u64) -> Option<Value> {
        let groups = self.groups.lock().unwrap();
        let group = groups.get(&id)?;
        let path = group.full_path.rsplit('/').next().unwrap_or_default();
        Some(json!({
            "id": id,
            "name": path,
            "path": path,
            "full_path": group.full_path,
            "full_name": group.full_path.replace('/', " / "),
            "parent_id": group.parent_id,
            "visibility": "private",
            "web_url": format!("https://gitlab.example.com/groups/{}", group.full_path),
        }))
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text}))).into_response()
}

pub(crate) async fn group(State(state): State<Arc<FakeState>>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api", "read_api"]) {
        return insufficient_scope("api read_api");
    }
    match state.groups.group_json(id) {
        Some(group) => Json(group).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Group Not Found"),
    }
}

/// Group hooks need the api scope, a group that exists, and a tier that has them.
async fn admit_group_hooks(state: &FakeState, headers: &HeaderMap, group_id: u64) -> Result<(), Response> {
    let token = admit(state, headers).await?;
    if !has_any(&token, &["api"]) {
        return Err(insufficient_scope("api"));
    }
    let free = state.groups.groups.lock().unwrap().get(&group_id).map(|g| g.free);
    match free {
        None => Err(message(StatusCode::NOT_FOUND, "404 Group Not Found")),
        Some(true) => Err(message(StatusCode::FORBIDDEN, "403 Forbidden")),
        Some(false) => Ok(()),
    }
}

fn hook_from(id: u64, group_id: u64, body: &Value) -> Value {
    let flag = |name: &str, default: bool| body[name].as_bool().unwrap_or(default);
    json!({
        "id": id,
        "url": body["url"],
        "group_id": group_id,
        "push_events": flag("push_events", true),
        "tag_push_events": flag("tag_push_events", false),
        "merge_requests_events": flag("merge_requests_events", false),
        "note_events": flag("note_events", false),
        "resource_access_token_events": flag("resource_access_token_events", false),
        "subgroup_events": flag("subgroup_events", false),
        "enable_ssl_verification": flag("enable_ssl_verification", true),
        "alert_status": "executable",
        "disabled_until": null,
        "created_at": "2026-11-26T00:00:00.000Z",
        "token": body["token"],
    })
}

pub(crate) async fn list_hooks(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    Json(state.groups.hooks(id).iter().map(shown).collect::<Vec<_>>()).into_response()
}

pub(crate) async fn create_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::create(&state.groups.hooks, &state.next_hook_id, id, &body, |hook_id| {
        hook_from(hook_id, id, &body)
    })
}

pub(crate) async fn get_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    match hook_lists::find(&state.groups.hooks, id, hook_id) {
        Some(hook) => Json(shown(&hook)).into_response(),
        None => hook_not_found(),
    }
}

pub(crate) async fn update_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::replace(&state.groups.hooks, id, hook_id, hook_from(hook_id, id, &body))
}

pub(crate) async fn delete_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id)): Path<(u64, u64)>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    hook_lists::remove(&state.groups.hooks, id, hook_id)
}

/// GitLab's test delivery of a group hook: a push of the group's first project sent to the
/// hook's URL (or the answer a test set, `hook_test_answer`), as for project hooks; a 2xx
/// re-enables the hook and answers 201, anything else answers 422.
pub(crate) async fn test_hook(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((id, hook_id, trigger)): Path<(u64, u64, String)>,
) -> Response {
    if let Err(r) = admit_group_hooks(&state, &headers, id).await {
        return r;
    }
    if !matches!(
        trigger.as_str(),
        "push_events" | "tag_push_events" | "merge_requests_events" | "note_events" | "resource_access_token_events"
    ) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "trigger does not have a valid value"})),
        )
            .into_response();
    }
    let Some(hook) = hook_lists::find(&state.groups.hooks, id, hook_id) else {
        return hook_not_found();
    };
    let answered = match state.hook_test_answer.load(Ordering::SeqCst) {
        0 => {
            // A push of the group's first project, sent to the hook's URL with its token.
            let full_path = state
                .groups
                .groups
                .lock()
                .unwrap()
                .get(&id)
                .map(|g| g.full_path.clone());
            let project = full_path.and_then(|path| state.projects.first_under(&path));
            let (url, token) = (
                hook["url"].as_str().unwrap_or_default(),
                hook["token"].as_str().unwrap_or_default(),
            );
            match project {
                Some(project) => deliver_test_push(&state, project, url, token).await,
                None => Err("the group has no project to send a test push of".to_string()),
            }
        }
        set => Ok(set),
    };
    match answered {
        Ok(status) if (200..300).contains(&status) => {}
        Ok(status) => {
            let text = format!("[{status}] the hook answered the test with {status}");
            return message(StatusCode::UNPROCESSABLE_ENTITY, &text);
        }
        Err(why) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Hook execution failed: {why}"),
            );
        }
    }
    hook_lists::set_alert(&state.groups.hooks, id, hook_id, "executable", None);
    message(StatusCode::CREATED, "201 Created")
}
