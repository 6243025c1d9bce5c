//! Group hooks end to end against the fake GitLab: registering one (new, again, refused on a
//! Free tier group or an unknown one), its health shown and a disabled hook re-enabled, project
//! hooks it covers not registered, what a sync says it covers, and removal (by itself, and with
//! the integration).

use crate::webhooks::{OWNER, deliver, gitlab_headers, id_of};
use http::Method;
use oore_gitlab_tests::{Backend, Harness, on_backends, push_payload};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// The fake's projects lie under `diaspora`; a subgroup and a Free tier group beside it.
pub(crate) const GROUP: u64 = 9970;
pub(crate) const SUBGROUP: u64 = 9971;
const FREE_GROUP: u64 = 9972;

/// A connected harness whose fake GitLab has the groups above.
pub(crate) async fn with_groups(backend: Backend) -> (Harness, Value) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let groups = &h.gitlab.state.groups;
    groups.add(GROUP, "diaspora", None);
    groups.add(SUBGROUP, "diaspora/mobile", Some(GROUP));
    groups.add(FREE_GROUP, "hobby", None);
    groups.make_free(FREE_GROUP);
    let started = h.connect().await;
    h.sync_settled(started["integration"]["id"].as_str().unwrap()).await;
    (h, started)
}

/// Registers our hook on `group`; answers the status and body.
pub(crate) async fn register(h: &Harness, integration: &str, group: u64) -> (u16, Value) {
    let body = json!({ "group_id": group }).to_string();
    let path = format!("/v1/integrations/{integration}/gitlab-group-webhooks");
    h.call(Method::POST, &path, OWNER, Some(&body)).await
}

/// The secret GitLab holds for our hook on `group`.
pub(crate) fn group_secret(h: &Harness, group: u64) -> String {
    let hooks = h.gitlab.state.groups.hooks(group);
    assert_eq!(hooks.len(), 1, "one hook of ours on group {group}: {hooks:?}");
    hooks[0]["token"].as_str().unwrap().to_string()
}

async fn listed(h: &Harness, integration: &str) -> Vec<Value> {
    let path = format!("/v1/integrations/{integration}/gitlab-group-webhooks");
    let (status, body) = h.call(Method::GET, &path, OWNER, None).await;
    assert_eq!(status, 200, "{body}");
    body["hooks"].as_array().unwrap().clone()
}

async fn registration_health_coverage_and_removal(backend: Backend) {
    let (h, started) = with_groups(backend).await;
    let integration = id_of(&started).to_string();

    let (status, hook) = register(&h, &integration, GROUP).await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(
        (
            hook["group_id"].as_u64(),
            hook["full_path"].as_str(),
            hook["alert_status"].as_str()
        ),
        (Some(GROUP), Some("diaspora"), Some("executable"))
    );
    let hook_id = hook["hook_id"].as_u64().unwrap();
    let at_gitlab = &h.gitlab.state.groups.hooks(GROUP)[0];
    assert_eq!(at_gitlab["url"], "https://oore.example.com/v1/webhooks/gitlab");
    for events in [
        "push_events",
        "tag_push_events",
        "merge_requests_events",
        "note_events",
        "resource_access_token_events",
    ] {
        assert_eq!(at_gitlab[events], true, "{events}");
    }
    let first_secret = group_secret(&h, GROUP);

    // Again: the same hook, updated with a new secret; the old one works through the grace.
    let (status, again) = register(&h, &integration, GROUP).await;
    assert_eq!((status, again["hook_id"].as_u64()), (200, Some(hook_id)), "{again}");
    assert_ne!(group_secret(&h, GROUP), first_secret);

    for (group, says) in [(FREE_GROUP, "403"), (4242, "404")] {
        let (status, refused) = register(&h, &integration, group).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("group_hooks_unavailable")),
            "{refused}"
        );
        let details = refused["details"].as_str().unwrap();
        assert!(
            details.contains(says) && details.contains("project hooks still work"),
            "{details}"
        );
    }

    // A project under the group: its project hook is not registered, the group's covers it.
    let (_, repos) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration}/repositories?limit=100"),
            OWNER,
            None,
        )
        .await;
    let repository = repos["repositories"][0]["id"].as_str().unwrap().to_string();
    let project: u64 = repos["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/v1/integration-repositories/{repository}/gitlab-webhook");
    let (status, covered) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(
        (status, covered["covered_by_group_hook"].as_u64()),
        (200, Some(hook_id)),
        "{covered}"
    );
    assert!(h.gitlab.state.hooks(project).is_empty(), "no project hook was made");

    // GitLab disables the hook: the next sync shows it, and registering again re-enables it.
    h.gitlab.state.groups.set_alert(GROUP, hook_id, "disabled", None);
    let sync = format!("/v1/integrations/{integration}/installations");
    let (status, synced) = h.call(Method::POST, &sync, OWNER, Some("{}")).await;
    assert_eq!(status, 200, "{synced}");
    let stored = repos["repositories"].as_array().unwrap().len();
    assert_eq!(
        (
            synced["group_hooks"][0]["hook_id"].as_u64(),
            synced["group_hooks"][0]["covered_projects"].as_u64()
        ),
        (Some(hook_id), Some(stored as u64)),
        "every project of the fake lies under diaspora: {synced}"
    );
    assert_eq!(listed(&h, &integration).await[0]["alert_status"], "disabled");
    // The hook's URL is not served in this test: the test delivery's answer is set.
    h.gitlab.state.hook_test_answer.store(200, Ordering::SeqCst);
    let (status, enabled) = register(&h, &integration, GROUP).await;
    assert_eq!(
        (status, enabled["alert_status"].as_str()),
        (200, Some("executable")),
        "{enabled}"
    );

    // Removed: at GitLab and here, and its secret stops working at once.
    let secret = group_secret(&h, GROUP);
    let path = format!("/v1/integrations/{integration}/gitlab-group-webhooks/{hook_id}");
    let (status, removed) = h.call(Method::DELETE, &path, OWNER, None).await;
    assert_eq!(status, 200, "{removed}");
    assert!(h.gitlab.state.groups.hooks(GROUP).is_empty());
    assert!(listed(&h, &integration).await.is_empty());
    let push = serde_json::to_vec(&push_payload(
        1000,
        &"a".repeat(40),
        "after removal",
        "diaspora/project-00000",
    ))
    .unwrap();
    let (status, _) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(status, 401, "the removed hook's secret is retired");
    let (status, again) = h.call(Method::DELETE, &path, OWNER, None).await;
    assert_eq!((status, again["code"].as_str()), (404, Some("group_hook_not_found")));

    // Deleting the integration removes its group hooks at GitLab.
    let (status, _) = register(&h, &integration, SUBGROUP).await;
    assert_eq!(status, 200);
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{integration}"), OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        h.gitlab.state.groups.hooks(SUBGROUP).is_empty(),
        "deleted before the delete answered"
    );
}

on_backends!(app registration_health_coverage_and_removal: memory, embedded, moto);
