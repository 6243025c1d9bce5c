//! GitLab webhook deliveries: whether an event builds, and how a delivery is deduplicated. Pure
//! functions over the payload and headers; merge request events and comment commands are
//! decided in `merge_request_events`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::build_rules::{check_commit, skip_reason};
use crate::domain::event_kind::EventKind;
use crate::domain::ids::ProjectId;
use crate::domain::merge_request_events::{decide_merge_request, decide_note};

/// A git sha of zeros: `before` zero is a created ref, `after` zero a deleted one.
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// What a delivery triggers a build for (the names a build system reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEvent {
    Push,
    TagPush,
    MergeRequest,
}

impl TriggerEvent {
    /// The event kind's name, as in the delivery log.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerEvent::Push => "push",
            TriggerEvent::TagPush => "tag_push",
            TriggerEvent::MergeRequest => "merge_request",
        }
    }
}

/// The merge request a build is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestRef {
    pub iid: u64,
    pub source_branch: String,
    pub target_branch: String,
    /// The merge request's head pipeline when GitLab sent one (`head_pipeline_id`): its commit
    /// statuses are posted to it, so merge request rules count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<u64>,
    /// The request comes from a fork: the build runs the target project's
    /// `refs/merge-requests/{iid}/head` with the target's credential, and should withhold its
    /// own secrets from the fork's code.
    #[serde(default)]
    pub from_fork: bool,
    /// The project the request's commits come from (the fork, when `from_fork`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_project_id: Option<ProjectId>,
}

/// The build a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    pub event: TriggerEvent,
    /// The full ref: `refs/heads/x`, `refs/tags/v1`, or `refs/merge-requests/{iid}/head`.
    pub git_ref: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub commit_sha: String,
    pub actor: Option<String>,
    pub merge_request: Option<MergeRequestRef>,
}

/// What to do with a delivery whose sender is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Build(BuildRequest),
    /// Builds only if a GitLab user has Developer access or more to the target project.
    ForMember(MemberGate),
    /// Accepted and recorded, but nothing to build; the reason is shown in the delivery log.
    Ignore(String),
}

/// A build that waits on a member: a fork's merge request, or an `/oore build` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGate {
    pub request: BuildRequest,
    /// Whose access decides (the request's author, or the commenter); none waits.
    pub user_id: Option<u64>,
    /// An explicit command: a new build with its own id, even of a commit that built before.
    pub retry: bool,
    /// The delivery log's reason when the user is not such a member.
    pub otherwise: String,
}

/// A payload that claims to be an event we build but lacks what that event must carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedEvent(pub String);

/// The GitLab project a payload is about: `project.id`, else `project_id`.
pub fn project_id(payload: &Value) -> Option<ProjectId> {
    payload
        .get("project")
        .and_then(|p| p.get("id"))
        .and_then(Value::as_u64)
        .or_else(|| payload.get("project_id").and_then(Value::as_u64))
        .map(ProjectId)
}

pub(crate) fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The operator's choices about what builds.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildPolicy {
    /// Draft merge requests build too (`BUILD_DRAFT_MERGE_REQUESTS=true`).
    pub build_drafts: bool,
}

/// Decides what a verified delivery of `kind` asks for.
/// A build's commit and ref are checked before anything is recorded, and GitLab's own skip
/// rules (`[skip ci]` in the head commit, the `ci.skip` push option) are honoured.
pub fn decide(kind: &EventKind, payload: &Value, policy: BuildPolicy) -> Result<Decision, MalformedEvent> {
    let decision = match kind {
        EventKind::Push | EventKind::TagPush => decide_push(kind, payload)?,
        EventKind::MergeRequest => decide_merge_request(payload, policy)?,
        EventKind::Note => decide_note(payload)?,
        other => return Ok(Decision::Ignore(format!("{other} events do not trigger builds"))),
    };
    let (request, explicit) = match &decision {
        Decision::Build(request) => (request, false),
        Decision::ForMember(gate) => (&gate.request, gate.retry),
        Decision::Ignore(_) => return Ok(decision),
    };
    check_commit(&request.commit_sha, &request.git_ref).map_err(MalformedEvent)?;
    // A member's explicit command builds whatever the commit says.
    match skip_reason(payload, &request.commit_sha).filter(|_| !explicit) {
        Some(reason) => Ok(Decision::Ignore(reason)),
        None => Ok(decision),
    }
}

fn decide_push(kind: &EventKind, payload: &Value) -> Result<Decision, MalformedEvent> {
    let git_ref = text(payload, "/ref").ok_or_else(|| MalformedEvent("the push names no ref".into()))?;
    let after = text(payload, "/after").unwrap_or(ZERO_SHA);
    let (event, branch, tag) = if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        (TriggerEvent::Push, Some(branch.to_string()), None)
    } else if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        (TriggerEvent::TagPush, None, Some(tag.to_string()))
    } else {
        return Ok(Decision::Ignore(format!("{git_ref} is neither a branch nor a tag")));
    };
    if *kind == EventKind::Push && event == TriggerEvent::TagPush
        || *kind == EventKind::TagPush && event == TriggerEvent::Push
    {
        return Err(MalformedEvent(format!("a {kind} event for {git_ref}")));
    }
    let name = branch.as_deref().or(tag.as_deref()).unwrap_or_default();
    if after == ZERO_SHA {
        let what = if event == TriggerEvent::Push { "branch" } else { "tag" };
        return Ok(Decision::Ignore(format!("{what} {name} was deleted")));
    }
    // checkout_sha is the commit even for an annotated tag, whose `after` is the tag object.
    let commit_sha = text(payload, "/checkout_sha").unwrap_or(after).to_string();
    Ok(Decision::Build(BuildRequest {
        event,
        git_ref: git_ref.to_string(),
        branch,
        tag,
        commit_sha,
        actor: text(payload, "/user_username").map(str::to_string),
        merge_request: None,
    }))
}

/// The key two copies of one delivery share: a signed delivery's `webhook-id` (covered by the
/// signature, so a replay under a new `Idempotency-Key` is still the same delivery), else
/// `Idempotency-Key` (stable across GitLab's retries and manual resends), else
/// `X-Gitlab-Event-UUID`, else a hash of integration, event and body.
pub fn delivery_key(
    signed_id: Option<&str>,
    idempotency_key: Option<&str>,
    event_uuid: Option<&str>,
    integration_id: &str,
    event: &str,
    body: &[u8],
) -> String {
    let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    given(signed_id)
        .or_else(|| given(idempotency_key))
        .or_else(|| given(event_uuid))
        .unwrap_or_else(|| {
            let mut hash = Sha256::new();
            for part in [integration_id.as_bytes(), b"\n", event.as_bytes(), b"\n", body] {
                hash.update(part);
            }
            format!("sha256:{}", hex::encode(hash.finalize()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pushes_to_odd_refs_are_ignored_and_mismatched_kinds_refused() {
        let payload = json!({"ref": "refs/notes/x", "after": "abc"});
        assert!(matches!(
            decide(&EventKind::Push, &payload, BuildPolicy::default()),
            Ok(Decision::Ignore(_))
        ));
        let payload = json!({"ref": "refs/tags/v1", "after": "abc"});
        assert!(decide(&EventKind::Push, &payload, BuildPolicy::default()).is_err());
        assert!(decide(&EventKind::Push, &json!({}), BuildPolicy::default()).is_err());
    }

    #[test]
    fn merge_request_update_builds_only_with_new_commits() {
        let mr = |attrs: Value| json!({"project": {"id": 7}, "user": {"username": "u"}, "object_attributes": attrs});
        let new = "b".repeat(40);
        let base = json!({"iid": 3, "action": "update", "source_branch": "f", "target_branch": "main", "source_project_id": 7, "target_project_id": 7, "last_commit": {"id": new}});
        assert!(matches!(
            decide(&EventKind::MergeRequest, &mr(base.clone()), BuildPolicy::default()),
            Ok(Decision::Ignore(_))
        ));
        let mut with_oldrev = base.clone();
        with_oldrev["oldrev"] = json!("old");
        match decide(&EventKind::MergeRequest, &mr(with_oldrev), BuildPolicy::default()).unwrap() {
            Decision::Build(b) => {
                assert_eq!(b.commit_sha, new);
                assert_eq!(b.git_ref, "refs/merge-requests/3/head");
                assert_eq!(b.merge_request.map(|m| m.iid), Some(3));
            }
            other => panic!("expected a build, got {other:?}"),
        }
        let mut fork = base;
        fork["action"] = json!("open");
        fork["source_project_id"] = json!(8);
        assert!(matches!(
            decide(&EventKind::MergeRequest, &mr(fork), BuildPolicy::default()),
            Ok(Decision::ForMember(_))
        ));
    }

    #[test]
    fn drafts_build_only_when_asked_and_ready_builds_once() {
        let mr = |attrs: Value, changes: Value| json!({"project": {"id": 7}, "user": {"username": "u"}, "object_attributes": attrs, "changes": changes});
        let head = "c".repeat(40);
        let open_draft = json!({"iid": 4, "action": "open", "draft": true, "source_branch": "f", "target_branch": "main",
                                "source_project_id": 7, "target_project_id": 7, "last_commit": {"id": head}});
        let default = BuildPolicy::default();
        let drafts = BuildPolicy { build_drafts: true };
        let builds = |d: Result<Decision, MalformedEvent>| matches!(d, Ok(Decision::Build(_)));
        assert!(!builds(decide(
            &EventKind::MergeRequest,
            &mr(open_draft.clone(), json!({})),
            default
        )));
        assert!(builds(decide(
            &EventKind::MergeRequest,
            &mr(open_draft.clone(), json!({})),
            drafts
        )));
        let mut old_style = open_draft.clone();
        old_style.as_object_mut().unwrap().remove("draft");
        old_style["work_in_progress"] = json!(true);
        assert!(!builds(decide(
            &EventKind::MergeRequest,
            &mr(old_style, json!({})),
            default
        )));
        // New commits on a draft do not build either.
        let mut pushed = open_draft.clone();
        pushed["action"] = json!("update");
        pushed["oldrev"] = json!("d".repeat(40));
        assert!(!builds(decide(
            &EventKind::MergeRequest,
            &mr(pushed, json!({})),
            default
        )));

        // Marked ready: the head commit builds, unless drafts already built it.
        let mut ready = open_draft.clone();
        ready["action"] = json!("update");
        ready["draft"] = json!(false);
        let to_ready = json!({"draft": {"previous": true, "current": false}});
        assert!(builds(decide(
            &EventKind::MergeRequest,
            &mr(ready.clone(), to_ready.clone()),
            default
        )));
        assert_eq!(
            decide(&EventKind::MergeRequest, &mr(ready.clone(), to_ready.clone()), drafts).unwrap(),
            Decision::Ignore("the head commit already built while a draft".into())
        );
        // Back to draft, labels, approvals: nothing builds.
        let to_draft = json!({"draft": {"previous": false, "current": true}});
        assert!(!builds(decide(
            &EventKind::MergeRequest,
            &mr(open_draft.clone(), to_draft),
            default
        )));
        let labels = json!({"labels": {"previous": [], "current": [{"title": "bug"}]}});
        assert!(!builds(decide(
            &EventKind::MergeRequest,
            &mr(ready.clone(), labels),
            default
        )));
        for action in ["approved", "approval", "unapproved", "unapproval"] {
            let mut approved = ready.clone();
            approved["action"] = json!(action);
            assert!(
                !builds(decide(&EventKind::MergeRequest, &mr(approved, json!({})), default)),
                "{action}"
            );
        }
    }

    #[test]
    fn delivery_key_prefers_idempotency_key_then_event_uuid_then_a_hash() {
        assert_eq!(
            delivery_key(Some("msg"), Some("idem"), Some("uuid"), "i", "push", b"{}"),
            "msg"
        );
        assert_eq!(
            delivery_key(None, Some("idem"), Some("uuid"), "i", "push", b"{}"),
            "idem"
        );
        assert_eq!(delivery_key(None, Some(" "), Some("uuid"), "i", "push", b"{}"), "uuid");
        let a = delivery_key(None, None, None, "i", "push", b"{}");
        assert!(a.starts_with("sha256:"));
        assert_eq!(a, delivery_key(None, None, None, "i", "push", b"{}"));
        assert_ne!(a, delivery_key(None, None, None, "j", "push", b"{}"));
    }
}
