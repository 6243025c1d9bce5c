//! Builds end to end: a delivery's trigger is queued, a runner claims it (one claim wins) with a
//! deploy token for that repository only, its reports become GitLab commit statuses, and the
//! claim runs out without reports. Against the fake GitLab, on the embedded store and on moto.

use oore_gitlab_tests::on_backends;
use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

/// The first project of the fake GitLab.
const PROJECT: u64 = 1000;
const SHA: &str = "5d3fe6a1b2c3d4e5f60718293a4b5c6d7e8f9012";

struct Setup {
    h: Harness,
    integration: String,
    secret: String,
}

async fn setup(backend: Backend) -> Setup {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let started = h.connect().await;
    Setup {
        integration: started["integration"]["id"].as_str().unwrap().to_string(),
        secret: started["webhook_secret"].as_str().unwrap().to_string(),
        h,
    }
}

fn push(message: &str, path_claimed: &str) -> Value {
    json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": SHA,
        "checkout_sha": SHA,
        "user_username": "jsmith",
        "project": {"id": PROJECT, "path_with_namespace": path_claimed},
        "commits": [{"id": SHA, "message": message}],
    })
}

/// Delivers `payload` with the integration's secret; returns the answer.
async fn deliver(s: &Setup, payload: &Value) -> (u16, Value) {
    let headers = [
        ("x-gitlab-token".to_string(), s.secret.clone()),
        ("x-gitlab-event".to_string(), "Push Hook".to_string()),
    ];
    let (status, _, body) =
        s.h.send(
            Method::POST,
            "/v1/webhooks/gitlab",
            &headers,
            Some(payload.to_string().into_bytes()),
        )
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn new_trigger(s: &Setup) -> String {
    let (status, answer) = deliver(s, &push("Add the feature", "diaspora/project-00000")).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    answer["trigger_id"].as_str().unwrap().to_string()
}

fn claim_path(id: &str) -> String {
    format!("/v1/build-triggers/{id}/claim")
}

fn status_path(id: &str) -> String {
    format!("/v1/build-triggers/{id}/status")
}

/// The states GitLab has been told for our commit, in order.
fn states(s: &Setup) -> Vec<String> {
    s.h.gitlab
        .state
        .builds
        .statuses()
        .into_iter()
        .filter(|st| st.sha == SHA && st.project_id == PROJECT)
        .map(|st| st.state)
        .collect()
}

/// Waits (bounded) until GitLab has seen `count` statuses for our commit.
async fn wait_for_states(s: &Setup, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = states(s);
        if seen.len() >= count || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

    assert_eq!(states(&s), vec!["pending", "running", "success"]);
    let posted = s.h.gitlab.state.builds.statuses();
    assert!(
        posted
            .iter()
            .all(|p| p.name == "oore-ci" && p.git_ref.as_deref() == Some("main"))
    );
    assert_eq!(posted[1].target_url.as_deref(), Some("https://ci.example.com/builds/7"));
    assert!(
        s.h.gitlab.state.builds.deploy_tokens()[0].revoked,
        "the final state revokes the clone credential"
    );

    let (status, err) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"failed"}"#))
            .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("trigger_finished")));
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

#[tokio::test]
async fn a_refused_clone_credential_puts_the_trigger_back() {
    let s = setup(Backend::Memory).await;
    s.h.gitlab.state.builds.make_developer_only(PROJECT);
    let id = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, err) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("clone_credential_unavailable")),
        "{err}"
    );
    assert!(
        err["error"].as_str().unwrap().contains("Maintainer"),
        "it says what to grant: {err}"
    );
    let (_, got) =
        s.h.call_with(Method::GET, &format!("/v1/build-triggers/{id}"), &runner, None)
            .await;
    assert_eq!(got["trigger"]["status"], "queued");
}

#[tokio::test]
async fn skip_markers_and_bad_commits_do_not_queue_builds() {
    let s = setup(Backend::Memory).await;
    for message in ["Fix the docs [skip ci]", "[CI SKIP] tidy"] {
        let (status, answer) = deliver(&s, &push(message, "diaspora/project-00000")).await;
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")), "{answer}");
        assert!(answer["reason"].as_str().unwrap().contains("skip"), "{answer}");
    }
    let mut option = push("normal", "diaspora/project-00000");
    option["push_options"] = json!({"ci": {"skip": true}});
    let (_, answer) = deliver(&s, &option).await;
    assert_eq!(answer["outcome"], "ignored", "{answer}");
    let mut short = push("normal", "diaspora/project-00000");
    short["checkout_sha"] = json!("abc123");
    let (status, err) = deliver(&s, &short).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_payload")), "{err}");
    let mut bad_ref = push("normal", "diaspora/project-00000");
    bad_ref["ref"] = json!("refs/heads/a..b");
    let (status, err) = deliver(&s, &bad_ref).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_payload")), "{err}");
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (_, queue) = s.h.call_with(Method::GET, "/v1/build-triggers", &runner, None).await;
    assert!(queue["triggers"].as_array().unwrap().is_empty(), "{queue}");
}

#[tokio::test]
async fn the_stored_repository_names_the_trigger_not_the_payload() {
    let s = setup(Backend::Memory).await;
    let (_, answer) = deliver(&s, &push("feature", "victim-group/other-repository")).await;
    let id = answer["trigger_id"].as_str().unwrap();
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (_, got) =
        s.h.call_with(Method::GET, &format!("/v1/build-triggers/{id}"), &runner, None)
            .await;
    assert_eq!(got["trigger"]["full_name"], "diaspora/project-00000");
    assert_eq!(
        got["trigger"]["clone_url"],
        format!("{}/diaspora/project-00000.git", s.h.gitlab.base_url)
    );
}

#[tokio::test]
async fn the_queue_pages_oldest_first_and_filters_on_moto() {
    let s = setup(Backend::Moto).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut payload = push("feature", "x");
        payload["commits"][0]["message"] = json!(format!("change {i}"));
        let headers = [
            ("x-gitlab-token".to_string(), s.secret.clone()),
            ("x-gitlab-event".to_string(), "Push Hook".to_string()),
            ("idempotency-key".to_string(), format!("delivery-{i}")),
        ];
        let (_, _, body) =
            s.h.send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers,
                Some(payload.to_string().into_bytes()),
            )
            .await;
        let answer: Value = serde_json::from_slice(&body).unwrap();
        ids.push(answer["trigger_id"].as_str().unwrap().to_string());
        s.h.clock.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let mut seen = Vec::new();
    let mut path = format!("/v1/build-triggers?limit=2&integration_id={}", s.integration);
    loop {
        let (status, page) = s.h.call_with(Method::GET, &path, &runner, None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["triggers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(
                    cursor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "URL-safe: {cursor}"
                );
                path = format!(
                    "/v1/build-triggers?limit=2&integration_id={}&cursor={cursor}",
                    s.integration
                );
            }
            None => break,
        }
    }
    assert_eq!(seen, ids, "oldest first, every trigger once");
    let (_, other) =
        s.h.call_with(
            Method::GET,
            "/v1/build-triggers?integration_id=someone-else",
            &runner,
            None,
        )
        .await;
    assert!(other["triggers"].as_array().unwrap().is_empty());
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&ids[0]), &runner, None).await.0,
        200
    );
    let (_, claimed) =
        s.h.call_with(Method::GET, "/v1/build-triggers?status=claimed", &runner, None)
            .await;
    assert_eq!(claimed["triggers"].as_array().unwrap().len(), 1);
    assert_eq!(claimed["triggers"][0]["id"], ids[0].as_str());
}

#[tokio::test]
async fn an_integration_with_running_builds_is_kept_and_a_deleted_one_takes_its_queue() {
    let s = setup(Backend::Memory).await;
    let running = new_trigger(&s).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&running), &runner, None)
            .await
            .0,
        200
    );
    let delete = format!("/v1/integrations/{}", s.integration);
    let (status, err) = s.h.call(Method::DELETE, &delete, Some(Role::Owner), None).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("integration_has_active_builds")),
        "{err}"
    );
    assert_eq!(
        s.h.call_with(
            Method::POST,
            &status_path(&running),
            &runner,
            Some(r#"{"state":"failed"}"#)
        )
        .await
        .0,
        200
    );
    let mut again = push("another", "x");
    again["after"] = json!("6d3fe6a1b2c3d4e5f60718293a4b5c6d7e8f9012");
    again["checkout_sha"] = again["after"].clone();
    again["commits"][0]["id"] = again["after"].clone();
    let (_, answer) = deliver(&s, &again).await;
    let queued = answer["trigger_id"].as_str().unwrap().to_string();
    let (status, _) = s.h.call(Method::DELETE, &delete, Some(Role::Owner), None).await;
    assert_eq!(status, 200);
    let (status, err) = s.h.call_with(Method::POST, &claim_path(&queued), &runner, None).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "the queued build went with it"
    );
}

#[tokio::test]
async fn a_token_without_api_shows_why_statuses_are_unavailable() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    h.gitlab
        .state
        .add_token("glpat-read-only-api", FakeToken::live(&["read_api", "read_repository"]));
    let body =
        json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token", "access_token": "glpat-read-only-api"});
    let (status, started) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            Some(Role::Owner),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["integration"]["id"].as_str().unwrap();
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), Some(Role::Owner), None)
        .await;
    assert_eq!(detail["status_reporting"]["available"], false, "{detail}");
    assert!(detail["status_reporting"]["reason"].as_str().unwrap().contains("api"));
    let (_, full) = h.call(Method::GET, "/v1/integrations", Some(Role::Owner), None).await;
    assert_eq!(full["total"], 1);
    let pat_started = h.connect().await;
    let pat_id = pat_started["integration"]["id"].as_str().unwrap();
    let (_, detail) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{pat_id}"),
            Some(Role::Owner),
            None,
        )
        .await;
    assert_eq!(detail["status_reporting"], json!({"available": true}), "{PAT} has api");
}

#[tokio::test]
async fn gitlab_failing_to_take_a_status_does_not_fail_the_report() {
    let s = setup(Backend::Memory).await;
    let id = new_trigger(&s).await;
    wait_for_states(&s, 1).await;
    let runner = s.h.token_for(Role::Runner, "runner-1");
    assert_eq!(
        s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await.0,
        200
    );
    s.h.gitlab.state.builds.fail_next_statuses(2);
    let (status, _) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"running"}"#))
            .await;
    assert_eq!(status, 200);
    assert_eq!(states(&s), vec!["pending", "running"], "retried past GitLab's two 503s");
    s.h.gitlab
        .state
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"success"}"#))
            .await;
    assert_eq!(
        (status, body["trigger"]["status"].as_str()),
        (200, Some("success")),
        "GitLab down never blocks a build"
    );
}

/// Calls moto's DynamoDB Streams API as the Lambda service does for an event source mapping
/// (moto cannot run the mapping itself without Docker).
async fn streams_call(target: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(oore_gitlab_tests::moto_endpoint())
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{target}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    assert!(response.status().is_success(), "{target}: {}", response.status());
    response.json().await.expect("moto answers JSON")
}

/// Every record on the table's stream so far, wrapped as the event Lambda hands the function.
async fn stream_event(table: &str) -> aws_lambda_events::event::dynamodb::Event {
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let described = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let stream_arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_string();
    let stream = streams_call("DescribeStream", json!({"StreamArn": stream_arn})).await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = streams_call(
            "GetShardIterator",
            json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let page = streams_call("GetRecords", json!({"ShardIterator": iterator["ShardIterator"]})).await;
        for mut record in page["Records"].as_array().unwrap().clone() {
            record["eventSourceARN"] = json!(stream_arn);
            records.push(record);
        }
    }
    serde_json::from_value(json!({ "Records": records })).expect("GetRecords output reads as the Lambda event")
}

#[tokio::test]
async fn the_stream_function_posts_pending_and_publishes_one_event_per_new_trigger_on_moto() {
    let s = setup(Backend::Moto).await;
    let shas = [
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
        "3333333333333333333333333333333333333333",
    ];
    let mut ids = Vec::new();
    for sha in shas {
        let mut payload = push("feature", "x");
        payload["after"] = json!(sha);
        payload["checkout_sha"] = json!(sha);
        payload["commits"][0]["id"] = json!(sha);
        let (_, answer) = deliver(&s, &payload).await;
        ids.push(answer["trigger_id"].as_str().unwrap().to_string());
        let (_, again) = deliver(&s, &payload).await;
        assert_eq!(again["duplicate"], true, "a resend records nothing new");
    }
    let table = s.h.app.services.config.table_name.clone();
    let event = stream_event(&table).await;
    assert!(
        event.records.len() > 3,
        "the stream carries every write, triggers among them"
    );

    let (bus, queue) = oore_gitlab_tests::bus_to_queue("Build Triggered").await;
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let events = shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), &bus);
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let published = oore_gitlab_tests::drain(&queue).await;
    let mut published_ids: Vec<String> = published
        .iter()
        .map(|e| e["detail"]["id"].as_str().unwrap().to_string())
        .collect();
    published_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(published_ids, expected, "exactly one event per new trigger");
    let first = &published[0];
    assert_eq!(
        (first["source"].as_str(), first["detail-type"].as_str()),
        (Some("oore.gitlab"), Some("Build Triggered"))
    );
    assert_eq!(first["detail"]["full_name"], "diaspora/project-00000");
    assert_eq!(first["detail"]["status"], "queued");
    let pending: Vec<_> =
        s.h.gitlab
            .state
            .builds
            .statuses()
            .into_iter()
            .filter(|st| st.state == "pending")
            .map(|st| st.sha)
            .collect();
    assert_eq!(pending.len(), 3, "pending for each trigger's commit: {pending:?}");

    // Handed the same records again (a retried batch), nothing is posted twice at GitLab.
    let again = stream_event(&table).await;
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, again).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        s.h.gitlab.state.builds.statuses().len(),
        3,
        "GitLab already shows pending"
    );
}

#[tokio::test]
async fn a_failed_publish_is_reported_for_its_record_alone_on_moto() {
    let s = setup(Backend::Moto).await;
    new_trigger(&s).await;
    let table = s.h.app.services.config.table_name.clone();
    let event = stream_event(&table).await;
    let trigger_record = event
        .records
        .iter()
        .find(|r| {
            r.event_name == "INSERT"
                && matches!(r.change.keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with("TRIGGER#"))
        })
        .expect("the trigger's record")
        .change
        .sequence_number
        .clone();
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let events =
        shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), "no-such-bus");
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        vec![trigger_record],
        "the trigger's record, and only it, is retried"
    );
}
