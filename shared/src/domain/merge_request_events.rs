//! Merge request events and the comment commands on them: what builds at once, what waits on a
//! member (a fork's request, an `/oore build` comment), and what is ignored.
//!
//! | delivery | decision |
//! |---|---|
//! | request opened or reopened, same project | builds |
//! | request updated with new commits, same project | builds |
//! | draft (unless `BUILD_DRAFT_MERGE_REQUESTS`), labels, approvals, no new commits | ignored |
//! | request from a fork, opened or with new commits | builds if its author is a member, else waits |
//! | `/oore build` or `/oore retry` comment on an open request | builds (a retry) if the commenter is a member |
//! | that comment on a closed or merged request | ignored |
//! | any other comment, or one on a commit, issue or snippet | ignored |

use serde_json::Value;

use crate::domain::ids::ProjectId;
use crate::domain::webhook::{
    BuildPolicy, BuildRequest, Decision, MalformedEvent, MemberGate, MergeRequestRef, TriggerEvent, project_id, text,
};

/// GitLab's Developer access level: the least that may run a build of a fork or by command.
pub const DEVELOPER_ACCESS: u32 = 30;

/// The log's reason for a fork's request that waits.
pub const FORK_WAITS: &str = "a merge request from a fork waits for a member's /oore build";

/// The log's reason for a command from someone who may not run builds.
pub const NOT_A_MEMBER: &str = "/oore build needs Developer access or more to the target project";

/// Whether a comment is a build command: its first line is `/oore build` or `/oore retry`.
pub fn is_build_command(note: &str) -> bool {
    let first_line = note.lines().next().unwrap_or_default();
    let words: Vec<&str> = first_line.split_whitespace().collect();
    matches!(words.as_slice(), ["/oore", "build" | "retry"])
}

/// Whether the merge request is a draft (`draft`, or `work_in_progress` before GitLab 13.x).
fn is_draft(attrs: &Value) -> bool {
    ["/draft", "/work_in_progress"]
        .iter()
        .any(|p| attrs.pointer(p).and_then(Value::as_bool) == Some(true))
}

/// Whether this update marked a draft ready (`changes.draft` from true to false).
fn marked_ready(payload: &Value) -> bool {
    let change = |side: &str| {
        ["/changes/draft", "/changes/work_in_progress"]
            .iter()
            .find_map(|p| payload.pointer(&format!("{p}/{side}")).and_then(Value::as_bool))
    };
    change("previous") == Some(true) && change("current") == Some(false)
}

/// A merge request event (`object_attributes` is the request).
pub(crate) fn decide_merge_request(payload: &Value, policy: BuildPolicy) -> Result<Decision, MalformedEvent> {
    let attrs = payload
        .get("object_attributes")
        .filter(|a| a.is_object())
        .ok_or_else(|| MalformedEvent("the merge request event has no object_attributes".into()))?;
    let action = text(attrs, "/action").unwrap_or("");
    let last_commit = text(attrs, "/last_commit/id");
    // `oldrev` is only sent when the update brought new commits.
    let new_commits = text(attrs, "/oldrev").is_some_and(|old| Some(old) != last_commit);
    let builds = match action {
        "open" | "reopen" => true,
        // Marked ready: the head commit builds, unless it already built as a draft (drafts
        // build only when the operator says so).
        "update" if marked_ready(payload) && !new_commits => !policy.build_drafts,
        "update" => new_commits,
        // Labels, approvals, comments and the rest never build.
        _ => false,
    };
    if !builds {
        let reason = match action {
            "update" if marked_ready(payload) => "the head commit already built while a draft".to_string(),
            "update" => "merge request update without new commits".to_string(),
            _ => format!("merge request action `{action}` does not trigger builds"),
        };
        return Ok(Decision::Ignore(reason));
    }
    if is_draft(attrs) && !policy.build_drafts {
        return Ok(Decision::Ignore(
            "draft merge requests do not build (BUILD_DRAFT_MERGE_REQUESTS)".into(),
        ));
    }
    let Some(request) = merge_request_build(attrs, payload)? else {
        return Ok(Decision::Ignore("the merge request targets another project".into()));
    };
    if !request.merge_request.as_ref().is_some_and(|mr| mr.from_fork) {
        return Ok(Decision::Build(request));
    }
    Ok(Decision::ForMember(MemberGate {
        request,
        user_id: attrs.get("author_id").and_then(Value::as_u64),
        retry: false,
        otherwise: FORK_WAITS.into(),
    }))
}

/// A comment (`object_attributes` is the note; a merge request's comes with `merge_request`).
pub(crate) fn decide_note(payload: &Value) -> Result<Decision, MalformedEvent> {
    let note = payload
        .get("object_attributes")
        .filter(|a| a.is_object())
        .ok_or_else(|| MalformedEvent("the note event has no object_attributes".into()))?;
    let on = text(note, "/noteable_type").unwrap_or("");
    if on != "MergeRequest" {
        let what = match on {
            "Commit" => "a commit",
            "Issue" => "an issue",
            "Snippet" => "a snippet",
            _ => "this kind of object",
        };
        return Ok(Decision::Ignore(format!("comments on {what} do not trigger builds")));
    }
    if note.get("system").and_then(Value::as_bool) == Some(true) || !is_build_command(text(note, "/note").unwrap_or(""))
    {
        return Ok(Decision::Ignore("the comment is not an /oore build command".into()));
    }
    let merge_request = payload
        .get("merge_request")
        .filter(|m| m.is_object())
        .ok_or_else(|| MalformedEvent("the comment names no merge_request".into()))?;
    let state = text(merge_request, "/state").unwrap_or("opened");
    if state != "opened" {
        return Ok(Decision::Ignore(format!(
            "/oore build on a {state} merge request does not build"
        )));
    }
    let Some(request) = merge_request_build(merge_request, payload)? else {
        return Ok(Decision::Ignore("the merge request targets another project".into()));
    };
    Ok(Decision::ForMember(MemberGate {
        request,
        user_id: note.get("author_id").and_then(Value::as_u64),
        retry: true,
        otherwise: NOT_A_MEMBER.into(),
    }))
}

/// The build of the request `mr` describes (an event's `object_attributes`, or a comment's
/// `merge_request`): its head commit at `refs/merge-requests/{iid}/head` of the target project.
/// `None` when the target is not the delivery's project.
fn merge_request_build(mr: &Value, payload: &Value) -> Result<Option<BuildRequest>, MalformedEvent> {
    let id = |field: &str| mr.get(field).and_then(Value::as_u64).map(ProjectId);
    let (source, target) = (id("source_project_id"), id("target_project_id"));
    if target.is_none() || target != project_id(payload) {
        return Ok(None);
    }
    let iid = mr
        .get("iid")
        .and_then(Value::as_u64)
        .ok_or_else(|| MalformedEvent("the merge request has no iid".into()))?;
    let branch =
        text(mr, "/source_branch").ok_or_else(|| MalformedEvent("the merge request has no source_branch".into()))?;
    let target_branch =
        text(mr, "/target_branch").ok_or_else(|| MalformedEvent("the merge request has no target_branch".into()))?;
    let commit_sha =
        text(mr, "/last_commit/id").ok_or_else(|| MalformedEvent("the merge request has no last_commit".into()))?;
    Ok(Some(BuildRequest {
        event: TriggerEvent::MergeRequest,
        git_ref: format!("refs/merge-requests/{iid}/head"),
        branch: Some(branch.to_string()),
        tag: None,
        commit_sha: commit_sha.to_string(),
        actor: text(payload, "/user/username").map(str::to_string),
        merge_request: Some(MergeRequestRef {
            iid,
            source_branch: branch.to_string(),
            target_branch: target_branch.to_string(),
            pipeline_id: mr.get("head_pipeline_id").and_then(Value::as_u64),
            from_fork: source != target,
            source_project_id: source,
        }),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::event_kind::EventKind;
    use crate::domain::webhook::decide;

    const COMMENT: &str = include_str!("../../../tests/fixtures/gitlab/webhooks/merge_request_comment_create.json");

    fn comment(note: &str) -> Value {
        let mut payload: Value = serde_json::from_str(COMMENT).unwrap_or_default();
        payload["object_attributes"]["note"] = json!(note);
        payload
    }

    fn gate(decision: Decision) -> MemberGate {
        match decision {
            Decision::ForMember(gate) => gate,
            other => panic!("expected a member's build, got {other:?}"),
        }
    }

    #[test]
    fn commands_are_the_first_line_only() {
        for yes in [
            "/oore build",
            "/oore retry",
            "  /oore   build  \nplease",
            "/oore build\r\n",
        ] {
            assert!(is_build_command(yes), "{yes:?}");
        }
        for no in [
            "lgtm",
            "please\n/oore build",
            "/oore",
            "/oore build now",
            "/OORE BUILD",
            "",
        ] {
            assert!(!is_build_command(no), "{no:?}");
        }
    }

    #[test]
    fn a_command_on_an_open_request_is_a_retry_gated_on_its_author() {
        let decided = decide(&EventKind::Note, &comment("/oore build"), BuildPolicy::default());
        let gate = gate(decided.unwrap_or(Decision::Ignore(String::new())));
        assert!(gate.retry);
        assert_eq!(gate.user_id, Some(51764));
        assert_eq!(gate.request.commit_sha, "c4c79227ed610f1151f05bbc5be33b4f340d39c8");
        assert_eq!(gate.request.git_ref, "refs/merge-requests/1/head");
        let mr = gate.request.merge_request.unwrap_or_else(|| panic!("no merge request"));
        assert!(!mr.from_fork);
        assert_eq!(mr.source_project_id, Some(ProjectId(4861503)));
    }

    #[test]
    fn a_command_ignores_skip_markers() {
        let mut payload = comment("/oore build");
        payload["object_attributes"]["last_commit"] =
            json!({"id": payload["merge_request"]["last_commit"]["id"], "message": "[skip ci]"});
        assert!(matches!(
            decide(&EventKind::Note, &payload, BuildPolicy::default()),
            Ok(Decision::ForMember(_))
        ));
    }

    #[test]
    fn other_comments_are_ignored_with_a_reason() {
        let ignored = |payload: &Value| match decide(&EventKind::Note, payload, BuildPolicy::default()) {
            Ok(Decision::Ignore(reason)) => reason,
            other => panic!("expected ignored, got {other:?}"),
        };
        assert_eq!(ignored(&comment("lgtm")), "the comment is not an /oore build command");
        let mut closed = comment("/oore build");
        closed["merge_request"]["state"] = json!("merged");
        assert!(ignored(&closed).contains("merged"));
        for (kind, what) in [("Commit", "a commit"), ("Issue", "an issue"), ("Snippet", "a snippet")] {
            let mut other = comment("/oore build");
            other["object_attributes"]["noteable_type"] = json!(kind);
            assert!(ignored(&other).contains(what), "{kind}");
        }
        let mut system = comment("/oore build");
        system["object_attributes"]["system"] = json!(true);
        assert_eq!(ignored(&system), "the comment is not an /oore build command");
    }

    #[test]
    fn a_fork_request_waits_on_its_author() {
        let payload = json!({"project": {"id": 7}, "user": {"username": "u"}, "object_attributes": {
            "iid": 5, "action": "open", "author_id": 9, "source_branch": "f", "target_branch": "main",
            "source_project_id": 8, "target_project_id": 7, "last_commit": {"id": "e".repeat(40)}}});
        let gate = gate(
            decide(&EventKind::MergeRequest, &payload, BuildPolicy::default())
                .unwrap_or(Decision::Ignore(String::new())),
        );
        assert!(!gate.retry);
        assert_eq!((gate.user_id, gate.otherwise.as_str()), (Some(9), FORK_WAITS));
        assert_eq!(gate.request.git_ref, "refs/merge-requests/5/head");
        let mr = gate.request.merge_request.unwrap_or_else(|| panic!("no merge request"));
        assert_eq!((mr.from_fork, mr.source_project_id), (true, Some(ProjectId(8))));

        let mut elsewhere = payload.clone();
        elsewhere["object_attributes"]["target_project_id"] = json!(6);
        assert_eq!(
            decide(&EventKind::MergeRequest, &elsewhere, BuildPolicy::default()),
            Ok(Decision::Ignore("the merge request targets another project".into()))
        );
    }
}
