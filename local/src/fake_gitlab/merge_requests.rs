//! The fake GitLab's merge request endpoints, in GitLab's documented shapes and refusals:
//! project members with their access levels (`GET /projects/:id/members/all/:user_id`, 404 for
//! a non-member), and merge request notes (create and edit, the api scope needed, 404 for a
//! request or note that does not exist, 400 for an empty or over-long body). Tests add members
//! and requests, read and delete notes.

use crate::fake_gitlab::access::{admit, find_project, has_any, insufficient_scope, not_found};
use crate::fake_gitlab::state::FakeState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// GitLab's longest note body.
const MOST_NOTE_CHARS: usize = 1_000_000;

/// One merge request note as GitLab holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNote {
    pub id: u64,
    pub project_id: u64,
    pub iid: u64,
    pub body: String,
    /// How often it was edited after it was written.
    pub edits: u32,
}

#[derive(Default)]
pub struct FakeMergeRequests {
    /// (project, user) → access level.
    members: Mutex<HashMap<(u64, u64), u32>>,
    /// (project, iid) of the requests that exist.
    requests: Mutex<HashSet<(u64, u64)>>,
    notes: Mutex<BTreeMap<u64, FakeNote>>,
    next_note_id: AtomicU64,
    /// How many membership lookups were answered.
    pub member_lookups: AtomicU64,
}

impl FakeMergeRequests {
    /// Makes `user_id` a member of `project_id` at `access_level` (10 guest, 20 reporter,
    /// 30 developer, 40 maintainer, 50 owner).
    pub fn add_member(&self, project_id: u64, user_id: u64, access_level: u32) {
        self.members.lock().unwrap().insert((project_id, user_id), access_level);
    }

    /// Opens merge request `iid` on `project_id`, so notes can be written on it.
    pub fn open(&self, project_id: u64, iid: u64) {
        self.requests.lock().unwrap().insert((project_id, iid));
    }

    /// The notes on one request, oldest first.
    pub fn notes(&self, project_id: u64, iid: u64) -> Vec<FakeNote> {
        let notes = self.notes.lock().unwrap();
        notes
            .values()
            .filter(|n| n.project_id == project_id && n.iid == iid)
            .cloned()
            .collect()
    }

    /// Deletes a note, as a user could in GitLab's interface.
    pub fn delete_note(&self, note_id: u64) -> bool {
        self.notes.lock().unwrap().remove(&note_id).is_some()
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text}))).into_response()
}

pub(crate) async fn member(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((project_id, user_id)): Path<(u64, u64)>,
) -> Response {
    let token = match admit(&state, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !has_any(&token, &["api", "read_api"]) {
        return insufficient_scope("api read_api");
    }
    if find_project(&state, project_id).is_none() {
        return not_found();
    }
    let requests = &state.merge_requests;
    requests.member_lookups.fetch_add(1, Ordering::SeqCst);
    let Some(level) = requests.members.lock().unwrap().get(&(project_id, user_id)).copied() else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    Json(json!({
        "id": user_id,
        "username": format!("user{user_id}"),
        "name": format!("User {user_id}"),
        "state": "active",
        "avatar_url": null,
        "web_url": format!("https://gitlab.example.com/user{user_id}"),
        "access_level": level,
        "created_at": "2026-11-26T00:00:00.000Z",
        "expires_at": null,
        "group_saml_identity": null,
    }))
    .into_response()
}

/// The token may write notes (api scope) on an existing request of an existing project.
async fn admit_notes(state: &FakeState, headers: &HeaderMap, project_id: u64, iid: u64) -> Result<Value, Response> {
    let token = admit(state, headers).await?;
    if !has_any(&token, &["api"]) {
        return Err(insufficient_scope("api"));
    }
    if find_project(state, project_id).is_none() {
        return Err(not_found());
    }
    if !state
        .merge_requests
        .requests
        .lock()
        .unwrap()
        .contains(&(project_id, iid))
    {
        return Err(message(StatusCode::NOT_FOUND, "404 Not found"));
    }
    Ok(json!({"id": token.user_id, "username": token.username, "name": token.username, "state": "active"}))
}

/// The note body a request carries, or GitLab's 400.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the answer itself; the fake serves tests, not traffic"
)]
fn note_body(body: &Value) -> Result<String, Response> {
    match body.get("body").and_then(Value::as_str) {
        None | Some("") => Err((StatusCode::BAD_REQUEST, Json(json!({"error": "body is missing"}))).into_response()),
        Some(text) if text.chars().count() > MOST_NOTE_CHARS => Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"message": {"note": ["is too long (maximum is 1000000 characters)"]}})),
        )
            .into_response()),
        Some(text) => Ok(text.to_string()),
    }
}

fn shown(note: &FakeNote, author: &Value) -> Value {
    json!({
        "id": note.id,
        "body": note.body,
        "attachment": null,
        "author": author,
        "created_at": "2026-11-26T00:00:00.000Z",
        "updated_at": "2026-11-26T00:00:00.000Z",
        "system": false,
        "noteable_id": note.iid,
        "noteable_type": "MergeRequest",
        "noteable_iid": note.iid,
        "project_id": note.project_id,
        "resolvable": false,
        "confidential": false,
        "internal": false,
    })
}

pub(crate) async fn create_note(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let author = match admit_notes(&state, &headers, project_id, iid).await {
        Ok(author) => author,
        Err(r) => return r,
    };
    let text = match note_body(&body) {
        Ok(text) => text,
        Err(r) => return r,
    };
    let requests = &state.merge_requests;
    let note = FakeNote {
        id: requests.next_note_id.fetch_add(1, Ordering::SeqCst) + 1,
        project_id,
        iid,
        body: text,
        edits: 0,
    };
    requests.notes.lock().unwrap().insert(note.id, note.clone());
    (StatusCode::CREATED, Json(shown(&note, &author))).into_response()
}

pub(crate) async fn edit_note(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((project_id, iid, note_id)): Path<(u64, u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let author = match admit_notes(&state, &headers, project_id, iid).await {
        Ok(author) => author,
        Err(r) => return r,
    };
    let text = match note_body(&body) {
        Ok(text) => text,
        Err(r) => return r,
    };
    let mut notes = state.merge_requests.notes.lock().unwrap();
    let Some(note) = notes
        .get_mut(&note_id)
        .filter(|n| n.project_id == project_id && n.iid == iid)
    else {
        return message(StatusCode::NOT_FOUND, "404 Note Not Found");
    };
    note.body = text;
    note.edits += 1;
    Json(shown(note, &author)).into_response()
}
