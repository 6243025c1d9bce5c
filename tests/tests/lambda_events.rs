//! Every event in `events/` goes through its own function's handler as Lambda would deliver it
//! (lambda_http's API Gateway v2 parsing): routed, authenticated, answered in the envelope.

use std::sync::Arc;

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::FakeOptions;
use shared::http::auth::Role;
use shared::http::routes::ROUTES;

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
    let h = Harness::new(Backend::Embedded, FakeOptions { prefix: String::new(), projects: 30, delay: Default::default() }).await;
    let started = h.connect().await;
    let integration_id = started["integration"]["id"].as_str().unwrap().to_string();
    let (_, repos) = h.call(Method::GET, &format!("/v1/integrations/{integration_id}/repositories?limit=1"), Some(Role::Owner), None).await;
    let repository_id = repos["repositories"][0]["id"].as_str().unwrap().to_string();
    let token = h.token(Role::Owner);
    let webhook_secret = started["webhook_secret"].as_str().unwrap().to_string();
    let app = Arc::new(h.app.clone());

    for route in ROUTES {
        let id = if route.path.starts_with("/v1/integration-repositories/") { repository_id.as_str() } else { integration_id.as_str() };
        let host = h.gitlab.base_url.as_str();
        let replacements = [
            ("6f1c2a7e-0000-4000-8000-000000000001", id),
            ("https://gitlab.example.com", host),
            ("glpat-example", PAT),
        ];
        // Delete last, so the other events still find the integration.
        if route.function == "delete-integration" {
            continue;
        }
        let credential = if route.function == "gitlab-webhook" { webhook_secret.as_str() } else { token.as_str() };
        let response = app.handle_route(route.id, event(route.function, credential, &replacements)).await;
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{}: {:?}", route.function, response.body());
        if route.function == "gitlab-webhook" {
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["outcome"], "triggered", "{body}");
        }
        if route.function == "list-repositories" {
            // The event searches `q=api`, which none of the fake's projects match: the query
            // string reached the handler through lambda_http's parsing.
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["total"], 0, "{body}");
        }
        // Without a token the same event is refused in the envelope.
        let response = app.handle_route(route.id, event(route.function, "", &replacements)).await;
        assert_eq!(response.status().as_u16(), 401, "{}", route.function);
    }
    let response = app.handle_route(shared::http::routes::RouteId::DeleteIntegration, event("delete-integration", &token, &[("6f1c2a7e-0000-4000-8000-000000000001", &integration_id)])).await;
    assert_eq!(response.status().as_u16(), 200);
    let (_, list) = h.call(Method::GET, "/v1/integrations", Some(Role::Owner), None).await;
    assert_eq!(list["total"], 1, "the start event connected a second integration; the first was deleted");
}

#[tokio::test]
async fn a_function_serves_only_its_own_route() {
    let h = Harness::new(Backend::Embedded, FakeOptions::default()).await;
    let token = h.token(Role::Owner);
    let request = event("list-integrations", &token, &[]);
    let response = h.app.handle_route(shared::http::routes::RouteId::GetIntegration, request).await;
    assert_eq!(response.status().as_u16(), 404);
}
