//! Deliveries through a group hook: any project under the group builds, one created after the
//! last sync too (looked up at GitLab and kept); an archived one never builds; one outside the
//! group is refused like another repository's secret. The same push through the group hook and
//! another hook is one build, and a warm group push costs what a project push does.

use crate::webhooks::group_hooks::{GROUP, group_secret, register, with_groups};
use crate::webhooks::{OWNER, deliver, gitlab_headers, id_of, secret_of};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends, push_payload};
use serde_json::{Value, json};

/// A project at `path` the fake GitLab starts to list (made after the sync).
fn new_project(id: u64, path: &str, archived: bool) -> Value {
    json!({"id": id, "name": path.rsplit('/').next(), "path_with_namespace": path, "default_branch": "main", "archived": archived})
}

fn push_of(project: u64, commit: char) -> Vec<u8> {
    serde_json::to_vec(&push_payload(
        project,
        &commit.to_string().repeat(40),
        "build me",
        "claimed/path",
    ))
    .unwrap()
}

async fn a_group_secret_builds_its_projects_only(backend: Backend) {
    let (h, started) = with_groups(backend).await;
    let integration = id_of(&started);
    let (status, _) = register(&h, integration.as_str(), GROUP).await;
    assert_eq!(status, 200);
    let secret = group_secret(&h, GROUP);
    let via_group = |body: &[u8]| {
        let (h, headers, body) = (&h, gitlab_headers("Push Hook", &secret), body.to_vec());
        async move { deliver(h, &headers, &body).await }
    };

    // A project of the sync builds; the same push through another hook is the same build.
    let (status, built) = via_group(&push_of(1000, 'a')).await;
    assert_eq!((status, built["outcome"].as_str()), (200, Some("triggered")), "{built}");
    let other_hook = gitlab_headers("Push Hook", &secret_of(&started));
    let (status, again) = deliver(&h, &other_hook, &push_of(1000, 'a')).await;
    assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)), "{again}");
    let log = format!("/v1/integrations/{integration}/deliveries?limit=10");
    let (_, log) = h.call(Method::GET, &log, OWNER, None).await;
    let outcomes: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["duplicate", "triggered"],
        "the second copy is logged as a duplicate"
    );

    // Made after the sync, in a subgroup: looked up at GitLab, kept, built under its own name.
    h.gitlab
        .state
        .add_project(&new_project(5000, "diaspora/mobile/app", false));
    let (status, adopted) = via_group(&push_of(5000, 'b')).await;
    assert_eq!(
        (status, adopted["outcome"].as_str()),
        (200, Some("triggered")),
        "{adopted}"
    );
    let triggers = h.triggers_of(&integration).await;
    let made = triggers
        .iter()
        .find(|t| t.project_id.get() == 5000)
        .expect("the new project's trigger");
    assert_eq!(made.full_name.as_deref(), Some("diaspora/mobile/app"));

    // Archived: never builds. Outside the group: refused like another repository's secret.
    h.gitlab.state.add_project(&new_project(5001, "diaspora/attic", true));
    h.gitlab.state.projects.modify(5001, |p| p["archived"] = json!(true));
    let (status, archived) = via_group(&push_of(5001, 'c')).await;
    assert_eq!(
        (status, archived["reason"].as_str()),
        (200, Some("archived projects do not build")),
        "{archived}"
    );
    h.gitlab.state.add_project(&new_project(6000, "elsewhere/tool", false));
    let (status, outside) = via_group(&push_of(6000, 'd')).await;
    assert_eq!(
        (status, outside["code"].as_str()),
        (401, Some("invalid_token")),
        "{outside}"
    );

    let shas: Vec<String> = h
        .triggers_of(&integration)
        .await
        .iter()
        .map(|t| t.sha.clone())
        .collect();
    assert_eq!(
        shas.iter().filter(|s| s.starts_with('a')).count(),
        1,
        "one build of the push: {shas:?}"
    );
    assert_eq!(shas.len(), 2, "{shas:?}");
}

on_backends!(app a_group_secret_builds_its_projects_only: memory, embedded, moto);

#[tokio::test]
async fn a_warm_group_push_costs_what_a_project_push_does_on_moto() {
    let (h, started) = with_groups(Backend::Moto).await;
    let (status, _) = register(&h, id_of(&started).as_str(), GROUP).await;
    assert_eq!(status, 200);
    let secret = group_secret(&h, GROUP);
    let warm_up = push_of(1000, '1');
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &secret), &warm_up).await.0,
        200
    );
    let counter = h.aws_calls.as_ref().unwrap();
    let (before, units_before) = (counter.snapshot(), counter.capacity().snapshot());
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push_of(1000, '2')).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    let spent = counter.snapshot() - before;
    // The key through its index and read, the repository, the group hook's record, the one item.
    assert_eq!((spent.dynamodb, spent.secrets_manager), (5, 0));
    let units = counter.capacity().snapshot() - units_before;
    assert_eq!(units.write, 3.0, "the item and its two index entries");
}
