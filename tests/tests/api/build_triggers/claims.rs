//! A build's life through claims and reports: every state reaches GitLab, one claim of twenty
//! wins, roles decide who may do what, bad reports change nothing, and a claim runs out.

use crate::build_triggers::{
    PROJECT, claim_path, new_trigger, setup, states, status_path, stream_event, through_the_stream, wait_for_states,
};
use http::Method;
use oore_gitlab_tests::Backend;
use oore_gitlab_tests::on_backends;
use serde_json::json;
use shared::inbound::http::auth::Role;

async fn a_build_runs_from_delivery_to_success_and_gitlab_sees_each_state(backend: Backend) {
    let s = setup(backend).await;
    let id = new_trigger(&s).await;
    if backend == Backend::Moto {
        // In AWS the table's stream hands the trigger to its own function.
        assert!(states(&s).is_empty(), "nothing is posted inside the webhook's answer");
        let (bus, _) = oore_gitlab_tests::bus_to_queue("Build Triggered").await;
        let sdk = oore_gitlab_tests::moto_sdk().await;
        let events =
            shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), &bus);
        let event = stream_event(&s.h.app.services.config.table_name).await;
        shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
    }
    assert_eq!(
        wait_for_states(&s, 1).await,
        vec!["pending"],
        "pending follows the delivery, off its answer"
    );

    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, queue) =
        s.h.call_with(Method::GET, "/v1/build-triggers?status=queued", &runner, None)
            .await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["triggers"].as_array().unwrap().len(), 1);
    let listed = &queue["triggers"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["full_name"], "diaspora/project-00000");
    assert_eq!(
        listed["clone_url"],
        format!("{}/diaspora/project-00000.git", s.h.gitlab.base_url)
    );
    assert_eq!(
        (
            listed["event"].as_str(),
            listed["ref"].as_str(),
            listed["branch"].as_str()
        ),
        (Some("push"), Some("refs/heads/main"), Some("main"))
    );
    assert_eq!(listed["project_id"], PROJECT.to_string());

    let (status, claimed) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["trigger"]["status"], "claimed");
    let clone = &claimed["clone"];
    assert_eq!(clone["url"], listed["clone_url"]);
    assert!(clone["username"].as_str().unwrap().starts_with("gitlab+deploy-token-"));
    assert!(!clone["password"].as_str().unwrap().is_empty());
    assert_eq!(clone["expires_at"], oore_gitlab_tests::START_TIME + 7200);
    let tokens = s.h.gitlab.state.builds.deploy_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        tokens[0].scopes,
        vec!["read_repository"],
        "the clone credential may only read"
    );
    assert_eq!(tokens[0].project_id, PROJECT, "for that repository only");
    assert_eq!(tokens[0].name, format!("oore-{id}"));
    assert!(!tokens[0].revoked);

    let running =
        json!({"state": "running", "target_url": "https://ci.example.com/builds/7", "description": "building"});
    let (status, body) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(&running.to_string()))
            .await;
    assert_eq!(
        (status, body["trigger"]["status"].as_str()),
        (200, Some("running")),
        "{body}"
    );
    let (status, body) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"success"}"#))
            .await;
    assert_eq!(
        (status, body["trigger"]["status"].as_str()),
        (200, Some("success")),
        "{body}"
    );
    assert_eq!(body["trigger"]["target_url"], "https://ci.example.com/builds/7");

    // The reports were answered once stored; GitLab is shown each state after, in order (in
    // AWS through the table's stream).
    through_the_stream(&s, backend).await;
    assert_eq!(wait_for_states(&s, 3).await, vec!["pending", "running", "success"]);
    let posted = s.h.gitlab.state.builds.statuses();
    assert!(
        posted
            .iter()
            .all(|p| p.name == "oore-ci" && p.git_ref.as_deref() == Some("main") && p.pipeline_id.is_none()),
        "a push's statuses carry its branch and no pipeline: {posted:?}"
    );
    assert_eq!(posted[1].target_url.as_deref(), Some("https://ci.example.com/builds/7"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s.h.gitlab.state.builds.deploy_tokens()[0].revoked && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        s.h.gitlab.state.builds.deploy_tokens()[0].revoked,
        "the final state revokes the clone credential"
    );

    let (status, err) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"failed"}"#))
            .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("trigger_finished")));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(states(&s).len(), 3, "a refused report reaches GitLab not at all");
}

on_backends!(app a_build_runs_from_delivery_to_success_and_gitlab_sees_each_state: memory, embedded, moto);

async fn one_claim_of_twenty_wins(backend: Backend) {
    let s = setup(backend).await;
    let id = new_trigger(&s).await;
    let tokens: Vec<String> = (0..20)
        .map(|i| s.h.token_for(Role::Runner, &format!("runner-{i}")))
        .collect();
    let path = claim_path(&id);
    let answers = futures::future::join_all(tokens.iter().map(|t| s.h.call_with(Method::POST, &path, t, None))).await;
    let winners = answers.iter().filter(|(status, _)| *status == 200).count();
    let losers: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert_eq!(winners, 1, "{answers:?}");
    assert!(
        losers
            .iter()
            .all(|(status, body)| *status == 409 && body["code"] == "trigger_already_claimed"),
        "{losers:?}"
    );
    assert_eq!(
        s.h.gitlab.state.builds.deploy_tokens().len(),
        1,
        "one clone credential, for the winner"
    );
}

on_backends!(app one_claim_of_twenty_wins: memory, embedded, moto);

#[tokio::test]
async fn roles_decide_who_reads_claims_and_reports() {
    let s = setup(Backend::Memory).await;
    let id = new_trigger(&s).await;
    let get = format!("/v1/build-triggers/{id}");
    for role in [Role::Owner, Role::Admin, Role::Developer, Role::QaViewer, Role::Runner] {
        let token = s.h.token_for(role, "someone");
        assert_eq!(
            s.h.call_with(Method::GET, "/v1/build-triggers", &token, None).await.0,
            200,
            "{role:?} lists"
        );
        assert_eq!(
            s.h.call_with(Method::GET, &get, &token, None).await.0,
            200,
            "{role:?} reads"
        );
    }
    for role in [Role::Developer, Role::QaViewer] {
        let token = s.h.token_for(role, "someone");
        let (status, err) = s.h.call_with(Method::POST, &claim_path(&id), &token, None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("permission_denied")),
            "{role:?} may not claim"
        );
        let (status, _) =
            s.h.call_with(Method::POST, &status_path(&id), &token, Some(r#"{"state":"running"}"#))
                .await;
        assert_eq!(status, 403, "{role:?} may not report");
    }
    let runner = s.h.token_for(Role::Runner, "runner-1");
    for (method, path) in [
        (Method::GET, "/v1/integrations".to_string()),
        (Method::GET, format!("/v1/integrations/{}", s.integration)),
        (Method::GET, "/v1/integration-repositories".to_string()),
        (Method::DELETE, format!("/v1/integrations/{}", s.integration)),
    ] {
        let (status, err) = s.h.call_with(method.clone(), &path, &runner, None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("permission_denied")),
            "a runner may not {method} {path}"
        );
    }
    let (status, _) =
        s.h.call_with(Method::POST, "/v1/integrations/gitlab/start", &runner, Some("{}"))
            .await;
    assert_eq!(status, 403);

    // Only the claimant reports; owner and admin may report on any trigger.
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    let other = s.h.token_for(Role::Runner, "runner-2");
    let (status, err) =
        s.h.call_with(Method::POST, &status_path(&id), &other, Some(r#"{"state":"running"}"#))
            .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("permission_denied")),
        "{err}"
    );
    let admin = s.h.token_for(Role::Admin, "an-admin");
    let (status, _) =
        s.h.call_with(Method::POST, &status_path(&id), &admin, Some(r#"{"state":"canceled"}"#))
            .await;
    assert_eq!(status, 200, "an admin cancels another's build");
}

#[tokio::test]
async fn reports_are_checked_before_anything_changes() {
    let s = setup(Backend::Memory).await;
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, err) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"running"}"#))
            .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("trigger_not_claimed")),
        "{err}"
    );
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    for (body, what) in [
        (r#"{"state":"pending"}"#, "a state runners do not report"),
        (r#"{"state":"exploded"}"#, "an unknown state"),
        (
            r#"{"state":"running","target_url":"ftp://ci.example.com/1"}"#,
            "a target_url that is not http(s)",
        ),
        (
            r#"{"state":"running","target_url":"javascript:alert(1)"}"#,
            "a script URL",
        ),
    ] {
        let (status, err) =
            s.h.call_with(Method::POST, &status_path(&id), &runner, Some(body))
                .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (400, Some("invalid_input")),
            "{what}: {err}"
        );
    }
    let (status, err) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!((status, err["code"].as_str()), (409, Some("trigger_already_claimed")));
    let missing = "/v1/build-triggers/6f1c2a7e-0000-4000-8000-00000000ffff/claim";
    assert_eq!(s.h.call_with(Method::POST, missing, &runner, None).await.0, 404);
    let (status, err) =
        s.h.call_with(Method::GET, "/v1/build-triggers?status=lost", &runner, None)
            .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_input")));
    let (status, err) =
        s.h.call_with(Method::GET, "/v1/build-triggers?cursor=0000%23abc", &runner, None)
            .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn a_claim_without_reports_runs_out_and_its_credential_is_revoked() {
    let s = setup(Backend::Memory).await;
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    s.h.clock.0.fetch_add(1799, std::sync::atomic::Ordering::SeqCst);
    let (_, queue) =
        s.h.call_with(Method::GET, "/v1/build-triggers?status=queued", &runner, None)
            .await;
    assert!(
        queue["triggers"].as_array().unwrap().is_empty(),
        "held until the timeout"
    );
    s.h.clock.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let expired = shared::inbound::schedule::expire_claims(&s.h.app.services)
        .await
        .unwrap();
    assert_eq!(expired.requeued, 1, "the scheduled claim expiry queues it again");
    let (_, queue) =
        s.h.call_with(Method::GET, "/v1/build-triggers?status=queued", &runner, None)
            .await;
    assert_eq!(queue["triggers"][0]["id"], id.as_str(), "queued again: {queue}");
    assert!(
        s.h.gitlab.state.builds.deploy_tokens()[0].revoked,
        "the run-out claim's credential is revoked"
    );
    let (status, err) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"success"}"#))
            .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("trigger_not_claimed")),
        "the old claimant lost it"
    );
    let late = s.h.token_for(Role::Runner, "runner-2");
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &late, None).await.0,
        200,
        "another runner takes it"
    );
}

/// GitLab refusing the clone credential puts the trigger back, and at the third refusal fails
/// it with the reason (GitLab shows `failed`), so a repository we may not clone does not hold
/// the head of the queue forever.
async fn a_trigger_gitlab_will_not_let_us_clone_fails_at_the_third_refusal(backend: Backend) {
    let s = setup(backend).await;
    s.h.gitlab.state.builds.make_developer_only(PROJECT);
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let read = || async {
        s.h.call_with(Method::GET, &format!("/v1/build-triggers/{id}"), &runner, None)
            .await
            .1
    };
    for refusal in 1..=3 {
        let (status, err) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (409, Some("clone_credential_unavailable")),
            "refusal {refusal}: {err}"
        );
        assert!(
            err["error"].as_str().unwrap().contains("Maintainer"),
            "it says what to grant: {err}"
        );
        let expected = if refusal < 3 { "queued" } else { "failed" };
        assert_eq!(read().await["trigger"]["status"], expected, "after refusal {refusal}");
    }
    let failed = read().await;
    assert!(
        failed["trigger"]["description"]
            .as_str()
            .unwrap()
            .contains("refused a clone credential 3 times"),
        "{failed}"
    );
    through_the_stream(&s, backend).await;
    assert_eq!(wait_for_states(&s, 2).await.last().map(String::as_str), Some("failed"));
    let (status, _) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!(status, 409, "a failed trigger is not claimed again");
}

on_backends!(app a_trigger_gitlab_will_not_let_us_clone_fails_at_the_third_refusal: memory, embedded, moto);

/// With nobody reading the queue, the schedule alone queues a run-out claim again and revokes
/// its clone credential; a read of the trigger never shows a run-out claim as held.
async fn claims_run_out_with_nobody_polling(backend: Backend) {
    let s = setup(backend).await;
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    let services = &s.h.app.services;
    let none = shared::inbound::schedule::expire_claims(services).await.unwrap();
    assert_eq!(none.requeued, 0, "a claim within its timeout is left alone");
    s.h.clock
        .0
        .fetch_add(services.config.claim_timeout_secs, std::sync::atomic::Ordering::SeqCst);
    let expired = shared::inbound::schedule::expire_claims(services).await.unwrap();
    assert_eq!(expired.requeued, 1);
    let stored = services
        .triggers
        .get_trigger(&shared::domain::ids::TriggerId::from(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, shared::domain::trigger::TriggerStatus::Queued);
    assert!(
        s.h.gitlab.state.builds.deploy_tokens()[0].revoked,
        "the run-out claim's credential is revoked"
    );
    let again = shared::inbound::schedule::expire_claims(services).await.unwrap();
    assert_eq!(again.requeued, 0, "nothing is requeued twice");

    // Claimed again and run out, then read before the schedule comes round: not held.
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    s.h.clock
        .0
        .fetch_add(services.config.claim_timeout_secs, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) =
        s.h.call_with(Method::GET, &format!("/v1/build-triggers/{id}"), &runner, None)
            .await;
    assert_eq!(
        (status, answer["trigger"]["status"].as_str()),
        (200, Some("queued")),
        "{answer}"
    );
}

on_backends!(app claims_run_out_with_nobody_polling: memory, embedded, moto);

/// A delete that marks the integration while a claim's deploy token is being issued: the claim
/// revokes the token it got and answers 404, so no credential outlives the integration.
async fn a_claim_overtaken_by_a_delete_revokes_its_own_credential(backend: Backend) {
    let s = setup(backend).await;
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    // GitLab slow to issue the token; the delete's mark lands meanwhile.
    s.h.gitlab.state.set_delay(std::time::Duration::from_millis(500));
    let path = claim_path(&id);
    let claim = s.h.call_with(Method::POST, &path, &runner, None);
    let delete = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let integration = shared::domain::ids::IntegrationId::from(s.integration.as_str());
        let now = s.h.app.services.clock.now();
        s.h.app
            .services
            .modify_integration(&integration, |stored| stored.deleted_at = Some(now))
            .await
            .unwrap();
    };
    let ((status, answer), ()) = tokio::join!(claim, delete);
    s.h.gitlab.state.set_delay(std::time::Duration::ZERO);
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")), "{answer}");
    let tokens = s.h.gitlab.state.builds.deploy_tokens();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(tokens[0].revoked, "the token issued to the overtaken claim is revoked");
}

on_backends!(app a_claim_overtaken_by_a_delete_revokes_its_own_credential: memory, embedded, moto);
