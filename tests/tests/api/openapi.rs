//! Our OpenAPI document (`infra/openapi.json`) is a superset of Oore's contract
//! (`fixtures/oore-openapi-gitlab.json`), lists exactly the route table, and the handlers'
//! answers have the documented shape — checked against both documents with a JSON Schema validator.

use std::collections::BTreeSet;

use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT, UI_REDIRECT};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;
use shared::inbound::http::routes::{ROUTES, RouteId};

fn load(relative: &str) -> Value {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn oore() -> Value {
    load("fixtures/oore-openapi-gitlab.json")
}

fn ours() -> Value {
    load("../infra/openapi.json")
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (path.clone(), m.clone())))
        .collect()
}

#[test]
fn our_document_keeps_every_path_and_schema_of_the_contract() {
    let (oore, ours) = (oore(), ours());
    for (path, method) in operations(&oore) {
        let theirs = &oore["paths"][&path][&method];
        let mine = &ours["paths"][&path][&method];
        assert!(mine.is_object(), "{method} {path} is missing");
        assert_eq!(
            mine["requestBody"], theirs["requestBody"],
            "{method} {path}: request body"
        );
        assert_eq!(mine["parameters"], theirs["parameters"], "{method} {path}: parameters");
        for (status, response) in theirs["responses"].as_object().unwrap() {
            let their_schema = &response["content"]["application/json"]["schema"];
            let my_schema = &mine["responses"][status]["content"]["application/json"]["schema"];
            // The same schema, or ours builds on it (allOf) to add fields.
            let extends = ours["components"]["schemas"].as_object().unwrap().values().any(|s| {
                Some(s) == my_schema["$ref"].as_str().and_then(|r| ours.pointer(&r[1..]))
                    && s["allOf"].as_array().is_some_and(|all| all.contains(their_schema))
            });
            assert!(
                my_schema == their_schema || extends,
                "{method} {path} {status}: {my_schema} does not keep {their_schema}"
            );
        }
    }
    for (name, theirs) in oore["components"]["schemas"].as_object().unwrap() {
        let mine = &ours["components"]["schemas"][name];
        assert_eq!(mine["type"], theirs["type"], "{name}: type");
        assert_eq!(mine["required"], theirs["required"], "{name}: required fields");
        assert_eq!(mine["enum"], theirs["enum"], "{name}: values");
        for (property, schema) in theirs["properties"].as_object().into_iter().flatten() {
            assert_eq!(&mine["properties"][property], schema, "{name}.{property}");
        }
    }
}

#[test]
fn our_document_lists_exactly_the_route_table() {
    let documented = operations(&ours());
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.id != RouteId::CorsPreflight)
        .map(|r| (r.path.to_string(), r.method.as_str().to_lowercase()))
        .collect();
    assert_eq!(documented, served);
}

/// Whether `body` fits the schema `doc` gives for `method path` answering `status`.
fn fits(doc: &Value, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no schema for {method} {path} {status}");
    let mut root = json!({ "allOf": [schema], "components": doc["components"] });
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    validator
        .validate(body)
        .map_err(|err| format!("{method} {path} {status}: {err}\n{body}"))
}

fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    if let Err(problem) = fits(doc, method, path, status, body) {
        panic!("{problem}");
    }
}

#[test]
fn the_check_refuses_a_wrong_shape() {
    let doc = oore();
    assert!(
        fits(
            &doc,
            "get",
            "/v1/integrations",
            200,
            &json!({"integrations": [], "total": 0, "active_total": 0})
        )
        .is_ok()
    );
    assert!(
        fits(
            &doc,
            "get",
            "/v1/integrations",
            200,
            &json!({"integrations": "none", "total": 0, "active_total": 0})
        )
        .is_err()
    );
    assert!(
        fits(&doc, "get", "/v1/integrations", 200, &json!({"integrations": []})).is_err(),
        "required fields"
    );
    let integration = json!({"id": "i", "provider": "gitlab", "host_url": "h", "auth_mode": "personal_token", "status": "active", "created_by": "u", "created_at": 1, "updated_at": 1});
    assert!(
        fits(
            &doc,
            "get",
            "/v1/integrations",
            200,
            &json!({"integrations": [integration], "total": 1, "active_total": 1})
        )
        .is_ok()
    );
    let mut wrong = integration.clone();
    wrong["provider"] = json!("bitbucket");
    assert!(
        fits(
            &doc,
            "get",
            "/v1/integrations",
            200,
            &json!({"integrations": [wrong], "total": 1, "active_total": 1})
        )
        .is_err(),
        "enums behind $ref"
    );
}

/// Checks an answer against both documents where the contract has the operation.
fn conforms(method: &str, path: &str, status: u16, body: &Value) {
    let oore = oore();
    if oore["paths"][path][method].is_object() {
        check(&oore, method, path, status, body);
    }
    check(&ours(), method, path, status, body);
}

#[tokio::test]
async fn every_answer_has_the_documented_shape() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let owner = Some(Role::Owner);
    let call = |method: Method, path: String, body: Option<Value>| {
        let h = &h;
        async move {
            h.call(method, &path, owner, body.map(|b| b.to_string()).as_deref())
                .await
        }
    };

    let start_body = json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token", "access_token": PAT});
    let (status, started) = call(Method::POST, "/v1/integrations/gitlab/start".into(), Some(start_body)).await;
    conforms("post", "/v1/integrations/gitlab/start", status, &started);
    let id = started["integration"]["id"].as_str().unwrap().to_string();
    let (status, body) = call(Method::GET, "/v1/integrations".into(), None).await;
    conforms("get", "/v1/integrations", status, &body);
    let (status, body) = call(Method::GET, format!("/v1/integrations/{id}"), None).await;
    conforms("get", "/v1/integrations/{id}", status, &body);
    let (status, repos) = call(Method::GET, format!("/v1/integrations/{id}/repositories"), None).await;
    conforms("get", "/v1/integrations/{id}/repositories", status, &repos);
    let repo = repos["repositories"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = call(Method::GET, "/v1/integration-repositories".into(), None).await;
    conforms("get", "/v1/integration-repositories", status, &body);
    let (status, headers, _) = h
        .raw(
            Method::GET,
            &format!("/v1/integration-repositories/{repo}/avatar"),
            Some(&h.token(Role::Owner)),
            None,
        )
        .await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (200, "image/png"));
    let (status, body) = call(Method::GET, format!("/v1/integrations/{id}/installations"), None).await;
    conforms("get", "/v1/integrations/{id}/installations", status, &body);
    let (status, body) = call(
        Method::POST,
        format!("/v1/integrations/{id}/installations"),
        Some(json!({})),
    )
    .await;
    conforms("post", "/v1/integrations/{id}/installations", status, &body);
    let (status, body) = call(
        Method::POST,
        format!("/v1/integrations/{id}/gitlab-token/check"),
        Some(json!({})),
    )
    .await;
    conforms("post", "/v1/integrations/{id}/gitlab-token/check", status, &body);
    let (status, body) = call(
        Method::PUT,
        format!("/v1/integrations/{id}/gitlab-token"),
        Some(json!({"access_token": PAT})),
    )
    .await;
    conforms("put", "/v1/integrations/{id}/gitlab-token", status, &body);
    let (status, rotated) = call(
        Method::POST,
        format!("/v1/integration-repositories/{repo}/gitlab-webhook-secret"),
        Some(json!({})),
    )
    .await;
    conforms(
        "post",
        "/v1/integration-repositories/{id}/gitlab-webhook-secret",
        status,
        &rotated,
    );
    let (status, body) = call(
        Method::POST,
        format!("/v1/integration-repositories/{repo}/gitlab-webhook"),
        Some(json!({})),
    )
    .await;
    conforms(
        "post",
        "/v1/integration-repositories/{id}/gitlab-webhook",
        status,
        &body,
    );

    // Group hooks: registered, listed, then covering the project (whose own hook is then not
    // registered), a refusal, and removal.
    h.gitlab.state.groups.add(9970, "diaspora", None);
    let group_hooks = format!("/v1/integrations/{id}/gitlab-group-webhooks");
    let (status, body) = call(Method::POST, group_hooks.clone(), Some(json!({"group_id": 9970}))).await;
    conforms("post", "/v1/integrations/{id}/gitlab-group-webhooks", status, &body);
    let group_hook = body["hook_id"].as_u64().unwrap();
    let (status, body) = call(Method::GET, group_hooks.clone(), None).await;
    conforms("get", "/v1/integrations/{id}/gitlab-group-webhooks", status, &body);
    let (status, body) = call(Method::POST, group_hooks.clone(), Some(json!({"group_id": 1}))).await;
    assert_eq!(status, 409, "{body}");
    conforms("post", "/v1/integrations/{id}/gitlab-group-webhooks", status, &body);
    let (status, body) = call(
        Method::POST,
        format!("/v1/integration-repositories/{repo}/gitlab-webhook"),
        Some(json!({})),
    )
    .await;
    assert_eq!(body["covered_by_group_hook"], group_hook, "{body}");
    conforms(
        "post",
        "/v1/integration-repositories/{id}/gitlab-webhook",
        status,
        &body,
    );
    let (status, body) = call(
        Method::POST,
        format!("/v1/integrations/{id}/installations"),
        Some(json!({})),
    )
    .await;
    assert!(body["group_hooks"].is_array(), "{body}");
    conforms("post", "/v1/integrations/{id}/installations", status, &body);
    let (status, body) = call(Method::DELETE, format!("{group_hooks}/{group_hook}"), None).await;
    conforms(
        "delete",
        "/v1/integrations/{id}/gitlab-group-webhooks/{hook_id}",
        status,
        &body,
    );

    let project = repos["repositories"][0]["external_id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let push = json!({"object_kind": "push", "ref": "refs/heads/main", "after": "9c1b2d3e4f5a69788796a5b4c3d2e1f001234567", "checkout_sha": "9c1b2d3e4f5a69788796a5b4c3d2e1f001234567", "project": {"id": project}}).to_string();
    let webhook_headers = |token: &str| {
        vec![
            ("x-gitlab-token".to_string(), token.to_string()),
            ("x-gitlab-event".to_string(), "Push Hook".to_string()),
            ("idempotency-key".to_string(), "k1".to_string()),
        ]
    };
    let secret = started["webhook_secret"].as_str().unwrap();
    let mut trigger_id = None;
    for _ in 0..2 {
        let (status, _, bytes) = h
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &webhook_headers(secret),
                Some(push.clone().into_bytes()),
            )
            .await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        conforms("post", "/v1/webhooks/gitlab", status, &answer);
        trigger_id = trigger_id.or_else(|| answer["trigger_id"].as_str().map(str::to_string));
    }
    let trigger = trigger_id.expect("the first delivery triggered a build");
    let (status, body) = call(Method::GET, "/v1/build-triggers".into(), None).await;
    conforms("get", "/v1/build-triggers", status, &body);
    assert_eq!(body["triggers"].as_array().unwrap().len(), 1);
    let (status, body) = call(Method::GET, format!("/v1/build-triggers/{trigger}"), None).await;
    conforms("get", "/v1/build-triggers/{id}", status, &body);
    let (status, body) = call(Method::POST, format!("/v1/build-triggers/{trigger}/claim"), None).await;
    assert_eq!(status, 200, "{body}");
    conforms("post", "/v1/build-triggers/{id}/claim", status, &body);
    let (status, body) = call(Method::POST, format!("/v1/build-triggers/{trigger}/claim"), None).await;
    conforms("post", "/v1/build-triggers/{id}/claim", status, &body);
    let (status, body) = call(
        Method::POST,
        format!("/v1/build-triggers/{trigger}/status"),
        Some(json!({"state": "success", "target_url": "https://ci.example.com/1"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    conforms("post", "/v1/build-triggers/{id}/status", status, &body);
    let (status, _, bytes) = h
        .send(
            Method::POST,
            "/v1/webhooks/gitlab",
            &webhook_headers("oore_wrong"),
            Some(push.into_bytes()),
        )
        .await;
    conforms(
        "post",
        "/v1/webhooks/gitlab",
        status,
        &serde_json::from_slice(&bytes).unwrap(),
    );
    let (status, body) = call(Method::GET, format!("/v1/integrations/{id}/deliveries"), None).await;
    conforms("get", "/v1/integrations/{id}/deliveries", status, &body);
    assert_eq!(body["deliveries"].as_array().unwrap().len(), 2);

    // OAuth: start, authorize both ways, the callback's redirect and its error page.
    let oauth = h.connect_oauth().await;
    let (status, body) = call(
        Method::POST,
        "/v1/integrations/gitlab/authorize".into(),
        Some(json!({"integration_id": oauth, "redirect_url": UI_REDIRECT})),
    )
    .await;
    conforms("post", "/v1/integrations/gitlab/authorize", status, &body);
    let back = h.authorize_at_gitlab(&oauth).await;
    let query: Vec<(String, String)> = url::Url::parse(&format!("https://x{back}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let (status, body) = call(
        Method::POST,
        "/v1/integrations/gitlab/authorize".into(),
        Some(json!({"code": query[0].1, "state": query[1].1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    check(&oore(), "post", "/v1/integrations/gitlab/start", 200, &body); // GitLabCompleteResponse
    let back = h.authorize_at_gitlab(&oauth).await;
    let (status, headers, _) = h.raw(Method::GET, &back, None, None).await;
    assert_eq!(status, 303);
    assert!(headers.contains_key("location"));
    let (status, headers, _) = h.raw(Method::GET, &back, None, None).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "text/html; charset=utf-8")
    );

    // Errors carry the envelope.
    let (status, body) = h.call(Method::GET, "/v1/integrations", None, None).await;
    assert_eq!(status, 401);
    check(&oore(), "post", "/v1/webhooks/gitlab", 401, &body);
    let (status, body) = call(Method::DELETE, format!("/v1/integrations/{id}"), None).await;
    conforms("delete", "/v1/integrations/{id}", status, &body);
}
