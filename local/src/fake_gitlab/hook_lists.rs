//! What project hooks and group hooks share in the fake GitLab: hooks kept per owner (a
//! project or a group) with their tokens, created, shown without them, edited without touching
//! their health, removed, re-enabled, and GitLab's 404 for one that is not there.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Owner id (project or group) → its hooks as GitLab holds them, tokens included.
pub(crate) type HookLists = Mutex<HashMap<u64, Vec<Value>>>;

/// A hook as GitLab shows it: without its token.
pub(crate) fn shown(hook: &Value) -> Value {
    let mut hook = hook.clone();
    if let Some(map) = hook.as_object_mut() {
        map.remove("token");
    }
    hook
}

pub(crate) fn hook_not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "404 Not found"}))).into_response()
}

/// GitLab's answer to creating a hook: 400 without a URL, else the hook `made` from the next
/// hook id, kept and shown.
pub(crate) fn create(
    lists: &HookLists,
    next_id: &AtomicU64,
    owner: u64,
    body: &Value,
    made: impl FnOnce(u64) -> Value,
) -> Response {
    if body["url"].as_str().is_none_or(str::is_empty) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "url is missing"}))).into_response();
    }
    let hook = made(next_id.fetch_add(1, Ordering::SeqCst));
    lists.lock().unwrap().entry(owner).or_default().push(hook.clone());
    (StatusCode::CREATED, Json(shown(&hook))).into_response()
}

/// One hook of an owner, token included.
pub(crate) fn find(lists: &HookLists, owner: u64, hook_id: u64) -> Option<Value> {
    let lists = lists.lock().unwrap();
    lists
        .get(&owner)
        .and_then(|list| list.iter().find(|h| h["id"].as_u64() == Some(hook_id)))
        .cloned()
}

/// Changes one hook in place; `None` when the owner has no such hook.
fn change(lists: &HookLists, owner: u64, hook_id: u64, edit: impl FnOnce(&mut Value)) -> Option<Value> {
    let mut lists = lists.lock().unwrap();
    let slot = lists
        .get_mut(&owner)
        .and_then(|list| list.iter_mut().find(|h| h["id"].as_u64() == Some(hook_id)))?;
    edit(slot);
    Some(slot.clone())
}

/// GitLab's answer to editing a hook's settings: `updated` takes its place, its health as it
/// was.
pub(crate) fn replace(lists: &HookLists, owner: u64, hook_id: u64, mut updated: Value) -> Response {
    let replaced = change(lists, owner, hook_id, |slot| {
        updated["alert_status"] = slot["alert_status"].clone();
        updated["disabled_until"] = slot["disabled_until"].clone();
        *slot = updated;
    });
    match replaced {
        Some(hook) => Json(shown(&hook)).into_response(),
        None => hook_not_found(),
    }
}

/// GitLab's answer to deleting a hook.
pub(crate) fn remove(lists: &HookLists, owner: u64, hook_id: u64) -> Response {
    let mut lists = lists.lock().unwrap();
    let Some(list) = lists.get_mut(&owner) else {
        return hook_not_found();
    };
    let before = list.len();
    list.retain(|h| h["id"].as_u64() != Some(hook_id));
    if list.len() == before {
        return hook_not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Sets a hook's health as GitLab would after failed deliveries (`executable` re-enables it).
pub(crate) fn set_alert(lists: &HookLists, owner: u64, hook_id: u64, status: &str, until: Option<&str>) {
    change(lists, owner, hook_id, |hook| {
        hook["alert_status"] = json!(status);
        hook["disabled_until"] = json!(until);
    });
}
