//! Every event in `events/` goes through its own function's handler as Lambda would deliver it
//! (lambda_http's API Gateway v2 parsing): routed, authenticated, answered in the envelope.

use std::sync::Arc;

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::FakeOptions;
use shared::inbound::http::auth::Role;
use shared::inbound::http::routes::ROUTES;

/// The event file with `${OORE_TOKEN}` and `${WEBHOOK_SECRET}` set to `token` (the caller token,
/// or for the webhook, the webhook secret).
fn event(function: &str, token: &str, replacements: &[(&str, &str)]) -> lambda_http::Request {
    let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text = text.replace("${OORE_TOKEN}", token).replace("${WEBHOOK_SECRET}", token);
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{function}: not an API Gateway v2 event: {e}"))
}

#[tokio::test]
async fn every_function_has_an_event_its_handler_accepts() {
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects: 30,
            delay: Default::default(),
        },
    )
    .await;
    let started = h.connect().await;
    let integration_id = started["integration"]["id"].as_str().unwrap().to_string();
    let (_, repos) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{integration_id}/repositories?limit=1"),
            Some(Role::Owner),
            None,
        )
        .await;
    let repository_id = repos["repositories"][0]["id"].as_str().unwrap().to_string();
    let token = h.token(Role::Owner);
    let webhook_secret = started["webhook_secret"].as_str().unwrap().to_string();
    let oauth_id = h.connect_oauth().await;
    let app = Arc::new(h.app.clone());

    // The group the group hook events name, and the hook the first of them registers.
    h.gitlab.state.groups.add(9970, "diaspora", None);
    let mut group_hook = String::from("41");
    // The webhook's event records a trigger; the build-trigger events then read, claim and report on it.
    let mut trigger_id = String::new();
    for route in ROUTES {
        let id = match route.function {
            _ if route.path.starts_with("/v1/integration-repositories/") => repository_id.as_str(),
            _ if route.path.starts_with("/v1/build-triggers/") => trigger_id.as_str(),
            "gitlab-authorize" => oauth_id.as_str(),
            _ => integration_id.as_str(),
        }
        .to_string();
        let id = id.as_str();
        let host = h.gitlab.base_url.as_str();
        // The callback's event needs a code and state GitLab really issued.
        let (code, state) = if route.function == "gitlab-callback" {
            let back = url::Url::parse(&format!("https://x{}", h.authorize_at_gitlab(&oauth_id).await)).unwrap();
            let get = |name: &str| {
                back.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .unwrap()
            };
            (get("code"), get("state"))
        } else {
            Default::default()
        };
        let (hook_path, hook_param) = (
            format!("gitlab-group-webhooks/{group_hook}"),
            format!("\"hook_id\": \"{group_hook}\""),
        );
        let replacements = [
            ("6f1c2a7e-0000-4000-8000-000000000001", id),
            ("gitlab-group-webhooks/41", hook_path.as_str()),
            ("\"hook_id\": \"41\"", hook_param.as_str()),
            ("https://gitlab.example.com", host),
            ("glpat-example", PAT),
            ("${OAUTH_CODE}", code.as_str()),
            ("${OAUTH_STATE}", state.as_str()),
        ];
        // Delete last, so the other events still find the integration.
        if route.function == "delete-integration" {
            continue;
        }
        let credential = if route.function == "gitlab-webhook" {
            webhook_secret.as_str()
        } else {
            token.as_str()
        };
        let response = app
            .handle_route(route.id, event(route.function, credential, &replacements))
            .await;
        let status = response.status().as_u16();
        let expected = match route.function {
            "gitlab-callback" => 303,
            "cors-preflight" => 204,
            _ => 200,
        };
        assert_eq!(status, expected, "{}: {:?}", route.function, response.body());
        if route.function == "register-group-webhook" {
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            group_hook = body["hook_id"].to_string();
        }
        if route.function == "gitlab-webhook" {
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["outcome"], "triggered", "{body}");
            trigger_id = body["trigger_id"].as_str().unwrap().to_string();
        }
        if route.function == "list-repositories" {
            // The event searches `q=api`, which none of the fake's projects match: the query
            // string reached the handler through lambda_http's parsing.
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["total"], 0, "{body}");
        }
        // Without a token the same event is refused in the envelope (the callback has none to lack).
        if matches!(route.function, "gitlab-callback" | "cors-preflight") {
            continue;
        }
        let response = app
            .handle_route(route.id, event(route.function, "", &replacements))
            .await;
        assert_eq!(response.status().as_u16(), 401, "{}", route.function);
    }
    // The report event left the build running, which holds the delete off until it ends.
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/build-triggers/{trigger_id}/status"),
            Some(Role::Owner),
            Some(r#"{"state":"success"}"#),
        )
        .await;
    assert_eq!(status, 200);
    let response = app
        .handle_route(
            shared::inbound::http::routes::RouteId::DeleteIntegration,
            event(
                "delete-integration",
                &token,
                &[("6f1c2a7e-0000-4000-8000-000000000001", &integration_id)],
            ),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let (_, list) = h.call(Method::GET, "/v1/integrations", Some(Role::Owner), None).await;
    assert_eq!(
        list["total"], 2,
        "the start event connected another integration, the OAuth one stays; the first was deleted"
    );
}

#[tokio::test]
async fn a_function_serves_only_its_own_route() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let token = h.token(Role::Owner);
    let request = event("list-integrations", &token, &[]);
    let response = h
        .app
        .handle_route(shared::inbound::http::routes::RouteId::GetIntegration, request)
        .await;
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn without_a_public_base_url_links_use_the_apis_own_domain_not_client_headers() {
    let gitlab = oore_local::fake_gitlab::FakeGitLab::start(FakeOptions::default(), 0)
        .await
        .unwrap();
    gitlab
        .state
        .add_token(PAT, oore_local::fake_gitlab::FakeToken::live(&["api"]));
    let config = shared::config::Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("embedded".into()),
        "CALLER_KEY_SECRET_ID" => Some("caller-key".into()),
        "MASTER_KEY_SECRET_ID" => Some("master-key".into()),
        "GITLAB_HTTP_LOOPBACK" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let clock = std::sync::Arc::new(oore_gitlab_tests::TestClock(std::sync::atomic::AtomicI64::new(
        oore_gitlab_tests::START_TIME,
    )));
    let key = secrecy::SecretString::from(oore_gitlab_tests::SIGNING_KEY.to_string());
    let app = shared::wiring::memory_app(config, shared::wiring::gitlab_client(), clock, &key)
        .await
        .expect("a fresh memory vault takes the keys");
    let token = shared::inbound::http::auth::issue_token(
        &key,
        "user-1",
        Role::Owner,
        "oore",
        "oore-gitlab",
        oore_gitlab_tests::START_TIME,
        3600,
    )
    .expect("the test key is 32 bytes or more");
    let response = app
        .handle_route(
            shared::inbound::http::routes::RouteId::GitLabStart,
            event(
                "gitlab-start",
                &token,
                &[
                    ("https://gitlab.example.com", &gitlab.base_url),
                    ("glpat-example", PAT),
                    // A client's own Host and X-Forwarded-Proto: API Gateway's domain wins.
                    (
                        r#""host": "abc123.execute-api.us-east-1.amazonaws.com","#,
                        r#""host": "attacker.example", "x-forwarded-proto": "http","#,
                    ),
                ],
            ),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        body["webhook_url"],
        "https://abc123.execute-api.us-east-1.amazonaws.com/v1/webhooks/gitlab"
    );
}

/// The stream event of the hand-off function reads as Lambda's DynamoDB event, and its new
/// image as the trigger the webhook wrote.
#[test]
fn the_hand_off_event_reads_as_a_trigger() {
    let path = format!("{}/../events/trigger-handoff.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&text).expect("a DynamoDB stream event");
    assert_eq!(event.records.len(), 1);
    let record = &event.records[0];
    assert_eq!(record.event_name, "INSERT");
    let trigger = shared::adapters::dynamodb::trigger_from_image(record.change.new_image.clone())
        .expect("the image reads")
        .expect("the image is a trigger, not a build marker");
    assert_eq!(trigger.status, shared::domain::trigger::TriggerStatus::Queued);
    assert_eq!(trigger.git_ref, "refs/heads/main");
}

/// The sync worker's event reads as Lambda's SQS event, and its message as a sync job.
#[test]
fn the_sync_worker_event_reads_as_a_job() {
    let path = format!("{}/../events/sync-worker.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    assert_eq!(event.records.len(), 1);
    let job: shared::ports::SyncJob =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).expect("a sync job");
    assert_eq!((job.generation, job.purge), (1, false));
}

#[test]
fn the_schedule_events_read_as_eventbridge_events() {
    for function in ["token-check", "claim-expiry", "storage-migration"] {
        let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let event: aws_lambda_events::event::eventbridge::EventBridgeEvent =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(event.detail_type, "Scheduled Event", "{path}");
        assert!(
            event.resources.iter().flatten().any(|r| r.contains("rule/")),
            "{path} names its rule"
        );
    }
}
