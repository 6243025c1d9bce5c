//! Merge requests from forks end to end: one by a stranger waits, builds when a developer
//! comments `/oore build`, and waits again after the next push to the fork; its trigger clones
//! the target project's `refs/merge-requests/<iid>/head` with the target's deploy token and says
//! it comes from a fork. A developer's own fork request builds at once.

use crate::build_triggers::{PROJECT, claim_path, comment, merge_request_opened, outcome, setup};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

const FORK: u64 = 4242;
const DEVELOPER: u64 = 201;
const STRANGER: u64 = 203;
const WAITS: &str = "a merge request from a fork waits for a member's /oore build";

/// The merge request of [`merge_request_opened`], from the fork, by `author`.
fn from_fork(author: u64) -> Value {
    let mut event = merge_request_opened();
    event["object_attributes"]["source_project_id"] = json!(FORK);
    event["object_attributes"]["author_id"] = json!(author);
    event
}

async fn a_fork_waits_for_a_member_then_builds_the_target(backend: Backend) {
    let s = setup(backend).await;
    s.h.gitlab.state.merge_requests.add_member(PROJECT, DEVELOPER, 30);

    let (answer, reason) = outcome(&s, "Merge Request Hook", &from_fork(STRANGER)).await;
    assert_eq!((answer.as_str(), reason.as_str()), ("ignored", WAITS));
    let mut no_author = from_fork(STRANGER);
    no_author["object_attributes"]["author_id"] = Value::Null;
    no_author["object_attributes"]["action"] = json!("reopen");
    let (answer, reason) = outcome(&s, "Merge Request Hook", &no_author).await;
    assert_eq!(
        (answer.as_str(), reason.as_str()),
        ("ignored", WAITS),
        "no author, no build"
    );

    // A developer approves with a comment: the fork's head commit builds.
    let mut approval = comment("/oore build", DEVELOPER, 7001);
    approval["merge_request"]["source_project_id"] = json!(FORK);
    let (answer, id) = outcome(&s, "Note Hook", &approval).await;
    assert_eq!(answer, "triggered", "{id}");

    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, claimed) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!(status, 200, "{claimed}");
    let trigger = &claimed["trigger"];
    assert_eq!(trigger["ref"], "refs/merge-requests/1/head");
    assert_eq!(trigger["project_id"], PROJECT.to_string());
    assert_eq!(
        (
            trigger["merge_request"]["from_fork"].clone(),
            trigger["merge_request"]["source_project_id"].clone()
        ),
        (json!(true), json!(FORK.to_string()))
    );
    assert_eq!(
        claimed["clone"]["url"],
        format!("{}/diaspora/project-00000.git", s.h.gitlab.base_url),
        "the target project is cloned, never the fork"
    );
    let tokens = s.h.gitlab.state.builds.deploy_tokens();
    assert_eq!(
        tokens.iter().map(|t| t.project_id).collect::<Vec<_>>(),
        vec![PROJECT],
        "the target's deploy token only"
    );

    // The next push to the fork waits for a new approval.
    let mut pushed = from_fork(STRANGER);
    pushed["object_attributes"]["action"] = json!("update");
    pushed["object_attributes"]["oldrev"] = pushed["object_attributes"]["last_commit"]["id"].clone();
    pushed["object_attributes"]["last_commit"]["id"] = json!("f".repeat(40));
    let (answer, reason) = outcome(&s, "Merge Request Hook", &pushed).await;
    assert_eq!((answer.as_str(), reason.as_str()), ("ignored", WAITS));

    // A developer's own fork builds at once, on the same rules.
    let mut own = from_fork(DEVELOPER);
    own["object_attributes"]["iid"] = json!(2);
    let (answer, id) = outcome(&s, "Merge Request Hook", &own).await;
    assert_eq!(answer, "triggered", "{id}");
    let (status, detail) =
        s.h.call_with(Method::GET, &format!("/v1/build-triggers/{id}"), &runner, None)
            .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        (
            detail["trigger"]["ref"].as_str(),
            detail["trigger"]["merge_request"]["from_fork"].as_bool()
        ),
        (Some("refs/merge-requests/2/head"), Some(true))
    );
}

on_backends!(app a_fork_waits_for_a_member_then_builds_the_target: memory, embedded, moto);
