//! `/oore build` comments end to end: a developer's runs the merge request's head commit again
//! as a trigger of its own; a reporter's, a stranger's, the integration's own user's, one on a
//! merged request and one on an issue are ignored with their reasons in the delivery log.

use crate::build_triggers::{
    PROJECT, Setup, claim_path, comment, merge_request_opened, outcome, setup, webhook_fixture,
};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends};
use serde_json::json;
use shared::inbound::http::auth::Role;
use std::sync::atomic::Ordering;

const DEVELOPER: u64 = 201;
const REPORTER: u64 = 202;
const STRANGER: u64 = 203;
/// The fake GitLab's own user: the one the integration's token belongs to.
const INTEGRATION_USER: u64 = 1;
const HEAD: &str = "c4c79227ed610f1151f05bbc5be33b4f340d39c8";

async fn reasons_logged(s: &Setup) -> Vec<String> {
    let path = format!("/v1/integrations/{}/deliveries?limit=100", s.integration);
    let (status, log) = s.h.call(Method::GET, &path, Some(Role::Owner), None).await;
    assert_eq!(status, 200, "{log}");
    log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["reason"].as_str().map(str::to_string))
        .collect()
}

async fn commands_build_for_developers_only(backend: Backend) {
    let s = setup(backend).await;
    let members = &s.h.gitlab.state.merge_requests;
    members.add_member(PROJECT, DEVELOPER, 30);
    members.add_member(PROJECT, REPORTER, 20);
    members.add_member(PROJECT, INTEGRATION_USER, 50);

    let (built, first) = outcome(&s, "Merge Request Hook", &merge_request_opened()).await;
    assert_eq!(built, "triggered", "{first}");

    // A developer's command builds the head commit again, as a trigger of its own.
    let command = comment("/oore build", DEVELOPER, 9001);
    let (answer, retry) = outcome(&s, "Note Hook", &command).await;
    assert_eq!(answer, "triggered", "{retry}");
    assert_ne!(retry, first, "a retry has its own id");
    let (again, _) = outcome(&s, "Note Hook", &command).await;
    assert_eq!(again, "duplicate", "GitLab's resend of the same comment builds once");
    let (alias, other_retry) = outcome(&s, "Note Hook", &comment("/oore retry\nflaky test", DEVELOPER, 9002)).await;
    assert_eq!(alias, "triggered");
    assert_ne!(other_retry, retry, "every command is a build of its own");

    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, claimed) = s.h.call_with(Method::POST, &claim_path(&retry), &runner, None).await;
    assert_eq!(status, 200, "{claimed}");
    let trigger = &claimed["trigger"];
    assert_eq!(
        (
            trigger["sha"].as_str(),
            trigger["ref"].as_str(),
            trigger["event"].as_str()
        ),
        (Some(HEAD), Some("refs/merge-requests/1/head"), Some("merge_request"))
    );

    let lookups_before = members.member_lookups.load(Ordering::SeqCst);
    let not_member = "/oore build needs Developer access or more to the target project";
    for author in [REPORTER, STRANGER] {
        let (answer, reason) = outcome(&s, "Note Hook", &comment("/oore build", author, 9100 + author)).await;
        assert_eq!(
            (answer.as_str(), reason.as_str()),
            ("ignored", not_member),
            "user {author}"
        );
    }
    assert_eq!(
        members.member_lookups.load(Ordering::SeqCst) - lookups_before,
        2,
        "one membership lookup a command"
    );
    let (answer, reason) = outcome(&s, "Note Hook", &comment("/oore build", INTEGRATION_USER, 9200)).await;
    assert_eq!(
        (answer.as_str(), reason.as_str()),
        (
            "ignored",
            "the comment was written by the integration's own GitLab user"
        )
    );
    let mut merged = comment("/oore build", DEVELOPER, 9300);
    merged["merge_request"]["state"] = json!("merged");
    let (answer, reason) = outcome(&s, "Note Hook", &merged).await;
    assert_eq!(
        (answer.as_str(), reason.as_str()),
        ("ignored", "/oore build on a merged merge request does not build")
    );
    let mut on_issue = webhook_fixture("issue_create.json");
    on_issue["object_kind"] = json!("note");
    on_issue["project"]["id"] = json!(PROJECT);
    on_issue["object_attributes"] = json!({"note": "/oore build", "noteable_type": "Issue", "author_id": DEVELOPER});
    let (answer, reason) = outcome(&s, "Note Hook", &on_issue).await;
    assert_eq!(
        (answer.as_str(), reason.as_str()),
        ("ignored", "comments on an issue do not trigger builds")
    );
    let (answer, _) = outcome(&s, "Note Hook", &comment("lgtm", DEVELOPER, 9400)).await;
    assert_eq!(answer, "ignored");
    assert_eq!(
        members.member_lookups.load(Ordering::SeqCst) - lookups_before,
        2,
        "no lookup for what is ignored on its face"
    );

    let logged = reasons_logged(&s).await;
    for reason in [
        not_member,
        "the comment is not an /oore build command",
        "comments on an issue do not trigger builds",
    ] {
        assert!(logged.iter().any(|r| r == reason), "{reason} in {logged:?}");
    }
    let triggers = s.h.triggers_of(&s.integration.as_str().into()).await;
    assert_eq!(triggers.len(), 3, "the opened request and two commands");
    assert!(triggers.iter().all(|t| t.sha == HEAD));
}

on_backends!(app commands_build_for_developers_only: memory, embedded, moto);

#[tokio::test]
async fn a_warm_command_costs_what_a_push_does_on_moto() {
    let s = setup(Backend::Moto).await;
    s.h.gitlab.state.merge_requests.add_member(PROJECT, DEVELOPER, 30);
    let (warm_up, _) = outcome(&s, "Note Hook", &comment("/oore build", DEVELOPER, 9501)).await;
    assert_eq!(warm_up, "triggered");
    let counter = s.h.aws_calls.as_ref().unwrap();
    let lookups = &s.h.gitlab.state.merge_requests.member_lookups;
    let (before, lookups_before) = (counter.snapshot(), lookups.load(Ordering::SeqCst));
    let (answer, _) = outcome(&s, "Note Hook", &comment("/oore build", DEVELOPER, 9502)).await;
    assert_eq!(answer, "triggered");
    let spent = counter.snapshot() - before;
    // As a push: the key found through its index and read, the repository and the hook record
    // read, the one item written; the integration's record was read by the first command.
    assert_eq!((spent.dynamodb, spent.secrets_manager), (5, 0));
    assert_eq!(
        lookups.load(Ordering::SeqCst) - lookups_before,
        1,
        "one membership lookup at GitLab"
    );
}
