//! The hooks we register on projects: registered once then updated, their health shown and a
//! disabled one re-enabled, unsynced repositories looked up once, and projects that change at GitLab.

use crate::webhooks::{
    FIXTURE_PROJECT, OWNER, connected, deliver, fixture, gitlab_headers, id_of, repository_of, secret_of,
    stored_repository,
};
use http::Method;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::{Backend, Harness, START_TIME};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use serde_json::{Value, json};

async fn unsynced_repository_is_looked_up_once(backend: Backend) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let started = h.connect().await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    // The project appears at GitLab after the sync.
    h.gitlab.state.add_project(&fixture("push.json")["project"]);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    assert_eq!(
        h.gitlab.state.project_lookups.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let repo = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(h.triggers_of(&integration).await[0].repository_id, repo);
    let mut next_commit = fixture("push.json");
    next_commit["after"] = json!("1111111111111111111111111111111111111111");
    next_commit["checkout_sha"] = next_commit["after"].clone();
    let next_commit = serde_json::to_vec(&next_commit).unwrap();
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &next_commit).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("triggered")));
    assert_eq!(
        h.gitlab.state.project_lookups.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a known repository needs no lookup"
    );
    // A project the integration cannot see is refused, and nothing is built.
    let mut foreign = fixture("push.json");
    foreign["project"]["id"] = json!(777);
    let (status, err) = deliver(
        &h,
        &gitlab_headers("Push Hook", &secret),
        &serde_json::to_vec(&foreign).unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_token")));
    assert_eq!(h.triggers_of(&integration).await.len(), 2);
    // GitLab down during the lookup: 503, so the delivery can be resent.
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    foreign["project"]["id"] = json!(778);
    let (status, err) = deliver(
        &h,
        &gitlab_headers("Push Hook", &secret),
        &serde_json::to_vec(&foreign).unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (503, Some("gitlab_unavailable")));
}

on_backends!(app unsynced_repository_is_looked_up_once: memory, moto);

#[tokio::test]
async fn hook_registration_creates_once_then_updates() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let repo = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let path = format!("/v1/integration-repositories/{repo}/gitlab-webhook");
    let (status, first) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["created"], true);
    assert!(
        first.get("webhook_secret").is_none(),
        "the secret goes to GitLab, not to the caller"
    );
    let hooks = h.gitlab.state.hooks(FIXTURE_PROJECT);
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["url"], "https://oore.example.com/v1/webhooks/gitlab");
    assert_eq!(
        (
            hooks[0]["push_events"].clone(),
            hooks[0]["tag_push_events"].clone(),
            hooks[0]["merge_requests_events"].clone(),
            hooks[0]["note_events"].clone()
        ),
        (json!(true), json!(true), json!(true), json!(true)),
        "comments carry /oore build"
    );
    let first_token = hooks[0]["token"].as_str().unwrap().to_string();
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", &first_token), &push).await.1["outcome"],
        "triggered"
    );

    let (_, second) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!(
        (second["created"].clone(), second["hook_id"].clone()),
        (json!(false), first["hook_id"].clone())
    );
    let hooks = h.gitlab.state.hooks(FIXTURE_PROJECT);
    assert_eq!(hooks.len(), 1, "a second call updates the same hook");
    let second_token = hooks[0]["token"].as_str().unwrap();
    assert_ne!(second_token, first_token);
    assert_eq!(
        deliver(&h, &gitlab_headers("Push Hook", second_token), &push).await.0,
        200
    );

    // A token without the api scope cannot manage hooks: a clear 400, and the hook is untouched.
    h.gitlab.state.add_token(
        oore_gitlab_tests::PAT,
        FakeToken::live(&["read_api", "read_repository"]),
    );
    let (status, err) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("gitlab_scope_missing")));
    assert_eq!(
        h.gitlab.state.hooks(FIXTURE_PROJECT)[0]["token"].as_str().unwrap(),
        second_token
    );
}

/// Archived projects are listed (`archived: true`) and never build; a renamed or transferred
/// project keeps its repository and takes its new name at the next sync; a project that vanished
/// loses the record of the hook we registered on it.
#[tokio::test]
async fn projects_that_change_at_gitlab() {
    let (h, started) = connected(Backend::Memory).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let before = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/integration-repositories/{before}/gitlab-webhook"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200);
    let hooks = h.app.services.hooks.list_hooks(&integration).await.unwrap();
    assert_eq!(hooks.len(), 1);

    h.gitlab.state.modify_project(FIXTURE_PROJECT, |p| {
        p["archived"] = json!(true);
        p["path_with_namespace"] = json!("new-group/renamed");
    });
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["id"], json!(before), "the same repository");
    assert_eq!(listed["full_name"], "new-group/renamed");
    assert_eq!(listed["archived"], true);
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let (status, answer) = deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await;
    assert_eq!(
        (status, answer["outcome"].as_str(), answer["reason"].as_str()),
        (200, Some("ignored"), Some("archived projects do not build")),
        "{answer}"
    );
    assert!(h.triggers_of(&integration).await.is_empty());

    // Gone from GitLab: the repository and its hook record go with the next complete pass.
    h.gitlab.state.remove_projects(&[FIXTURE_PROJECT]);
    h.sync_and_settle(integration.as_str()).await;
    assert!(h.app.services.hooks.list_hooks(&integration).await.unwrap().is_empty());
}

/// The hook we registered shows its health in the listing, refreshed by a sync and by
/// registering again, which re-enables a hook GitLab disabled.
async fn hook_health_is_shown_and_a_disabled_hook_reenabled(backend: Backend) {
    let (h, started) = connected(backend).await;
    let integration = id_of(&started);
    let secret = secret_of(&started);
    let repository = repository_of(&h, &integration, FIXTURE_PROJECT).await;
    let register = format!("/v1/integration-repositories/{repository}/gitlab-webhook");
    let others: Vec<Value> = {
        let (_, list) = h
            .call(
                Method::GET,
                &format!("/v1/integrations/{integration}/repositories?limit=100"),
                OWNER,
                None,
            )
            .await;
        list["repositories"].as_array().unwrap().clone()
    };
    assert!(
        others.iter().all(|r| r.get("webhook") == Some(&Value::Null)),
        "no hook registered yet: {others:?}"
    );

    let (status, registered) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, registered["alert_status"].as_str()),
        (200, Some("executable")),
        "{registered}"
    );
    let hook_id = registered["hook_id"].as_u64().unwrap();
    let hook = &h.gitlab.state.hooks(FIXTURE_PROJECT)[0];
    assert_eq!(
        hook["resource_access_token_events"], true,
        "subscribed to token expiry events"
    );
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(
        listed["webhook"],
        json!({"hook_id": hook_id, "alert_status": "executable", "disabled_until": null, "last_delivery_at": null})
    );
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    assert_eq!(deliver(&h, &gitlab_headers("Push Hook", &secret), &push).await.0, 200);
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"]["last_delivery_at"], START_TIME);
    // The time is kept to the hour: a delivery within it writes nothing more, one after it does.
    let note = serde_json::to_vec(&fixture("merge_request_comment_create.json")).unwrap();
    for (later, shown) in [(1_800, START_TIME), (3_660, START_TIME + 3_660)] {
        h.clock.0.store(START_TIME + later, std::sync::atomic::Ordering::SeqCst);
        let (status, answer) = deliver(&h, &gitlab_headers("Note Hook", &secret), &note).await;
        assert_eq!(status, 200, "{answer}");
        let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
        assert_eq!(listed["webhook"]["last_delivery_at"], shown, "{later} s later");
    }

    // GitLab disables it after failed deliveries; the next sync shows it.
    let until = "2026-11-27T12:00:00.000Z";
    oore_local::fake_gitlab::hooks::set_hook_alert(
        &h.gitlab.state,
        FIXTURE_PROJECT,
        hook_id,
        "temporarily_disabled",
        Some(until),
    );
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(
        (&listed["webhook"]["alert_status"], &listed["webhook"]["disabled_until"]),
        (&json!("temporarily_disabled"), &json!(until))
    );

    // Registering again tests the hook: a test GitLab's delivery fails leaves it disabled…
    oore_local::fake_gitlab::hooks::set_hook_alert(&h.gitlab.state, FIXTURE_PROJECT, hook_id, "disabled", None);
    h.gitlab
        .state
        .hook_test_answer
        .store(500, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, answer["alert_status"].as_str()),
        (200, Some("disabled")),
        "{answer}"
    );
    // …one our service answers 2xx re-enables it.
    h.gitlab
        .state
        .hook_test_answer
        .store(200, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) = h.call(Method::POST, &register, OWNER, Some("{}")).await;
    assert_eq!(
        (status, answer["alert_status"].as_str()),
        (200, Some("executable")),
        "{answer}"
    );
    assert_eq!(answer["hook_id"], hook_id, "the same hook, not a second one");
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"]["alert_status"], "executable");

    // Someone deleted our hook at GitLab: the next sync forgets it.
    h.gitlab.state.hooks_clear(FIXTURE_PROJECT);
    h.sync_and_settle(integration.as_str()).await;
    let listed = stored_repository(&h, &integration, FIXTURE_PROJECT).await;
    assert_eq!(listed["webhook"], Value::Null);
}

on_backends!(app hook_health_is_shown_and_a_disabled_hook_reenabled: memory, embedded, moto);
