//! The build queue: what queues a build and what does not, names from the stored repository,
//! paging and filters, and what a deleted integration or a status GitLab refuses does to it.

use crate::build_triggers::{claim_path, deliver, new_trigger, push, setup, status_path, wait_for_states};
use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

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
        // Each delivery a commit of its own: the same commit again would be the same build.
        payload["after"] = json!(format!("{:040}", i + 1));
        payload["checkout_sha"] = payload["after"].clone();
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
    assert_eq!(
        wait_for_states(&s, 2).await,
        vec!["pending", "running"],
        "retried past GitLab's two 503s"
    );
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
