//! What the flow refuses, and how: callers authenticated then authorised, bad input in the
//! envelope, GitLab's refusals and outages mapped to the contract.

use crate::personal_token_flow::{OWNER, options, start_body};
use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{FakeToken, TokenState};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

#[tokio::test]
async fn callers_are_authenticated_then_authorised() {
    let h = Harness::new(Backend::Memory, options(1)).await;
    let (status, body) = h.call(Method::GET, "/v1/integrations", None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("missing_auth")));
    assert_eq!(body["error"], "Authorization header required");
    for bearer in ["not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"] {
        let (status, _, bytes) = h.raw(Method::GET, "/v1/integrations", Some(bearer), None).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((status, body["code"].as_str()), (401, Some("invalid_session")));
    }
    // Expired: a token issued an hour ago with a one-second lifetime.
    let c = &h.app.services.config;
    let key = secrecy::SecretString::from(oore_gitlab_tests::SIGNING_KEY.to_string());
    let stale = shared::inbound::http::auth::issue_token(
        &key,
        "u",
        Role::Owner,
        &c.token_issuer,
        &c.token_audience,
        oore_gitlab_tests::START_TIME - 3600,
        1,
    )
    .expect("the test key is 32 bytes or more");
    let (status, _, _) = h.raw(Method::GET, "/v1/integrations", Some(&stale), None).await;
    assert_eq!(status, 401);
    // Another audience is refused.
    let foreign = shared::inbound::http::auth::issue_token(
        &key,
        "u",
        Role::Owner,
        &c.token_issuer,
        "another-service",
        oore_gitlab_tests::START_TIME,
        3600,
    )
    .expect("the test key is 32 bytes or more");
    let (status, _, _) = h.raw(Method::GET, "/v1/integrations", Some(&foreign), None).await;
    assert_eq!(status, 401);

    let body = start_body(&h.gitlab.base_url, PAT);
    for role in [Role::Developer, Role::QaViewer] {
        let (status, err) = h
            .call(Method::POST, "/v1/integrations/gitlab/start", Some(role), Some(&body))
            .await;
        assert_eq!((status, err["code"].as_str()), (403, Some("permission_denied")));
        let (status, _) = h.call(Method::GET, "/v1/integrations", Some(role), None).await;
        assert_eq!(status, 200);
    }
    // Body is checked before permission, as the daemon does.
    let (status, err) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            Some(Role::Developer),
            Some("{not json"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")));
    let (status, _) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            Some(Role::Admin),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_in_the_envelope() {
    let h = Harness::new(Backend::Memory, options(1)).await;
    let base = h.gitlab.base_url.clone();
    let big = format!(
        r#"{{"host_url":"{}","auth_mode":"personal_token","access_token":"{}"}}"#,
        base,
        "x".repeat(70_000)
    );
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("{not json".into(), 400, "invalid_request", "not valid JSON"),
        ("[]".into(), 400, "invalid_request", "request body"),
        (
            json!({"host_url": base, "auth_mode": "carrier_pigeon", "access_token": PAT}).to_string(),
            400,
            "invalid_request",
            "unknown variant",
        ),
        (
            json!({"auth_mode": "personal_token", "access_token": PAT}).to_string(),
            400,
            "invalid_request",
            "host_url",
        ),
        (
            json!({"host_url": base, "auth_mode": "personal_token"}).to_string(),
            400,
            "invalid_input",
            "`access_token` is required",
        ),
        (
            json!({"host_url": base, "auth_mode": "personal_token", "access_token": "   "}).to_string(),
            400,
            "invalid_input",
            "`access_token` is required",
        ),
        (
            json!({"host_url": base, "auth_mode": "github_app"}).to_string(),
            400,
            "invalid_input",
            "personal_token or oauth_app",
        ),
        (
            json!({"host_url": base, "auth_mode": "oauth_app", "client_id": "a", "client_secret": " "}).to_string(),
            400,
            "invalid_input",
            "`client_secret` is required",
        ),
        (
            json!({"host_url": base, "auth_mode": "oauth_app", "client_secret": "b"}).to_string(),
            400,
            "invalid_input",
            "`client_id` is required",
        ),
        (start_body("", PAT), 400, "invalid_input", "absolute URL"),
        (
            start_body("gitlab.example.com", PAT),
            400,
            "invalid_input",
            "absolute URL",
        ),
        (
            start_body("https://user:pw@gitlab.example.com", PAT),
            400,
            "invalid_input",
            "user name or password",
        ),
        (
            start_body("https://gitlab.example.com/?x=1", PAT),
            400,
            "invalid_input",
            "query string",
        ),
        (
            start_body("https://gitlab.example.com/#top", PAT),
            400,
            "invalid_input",
            "fragment",
        ),
        (
            start_body("http://gitlab.example.com", PAT),
            400,
            "invalid_input",
            "https",
        ),
        (
            start_body("https://169.254.169.254/latest/meta-data", PAT),
            400,
            "invalid_input",
            "metadata",
        ),
        (start_body("https://[fe80::1]", PAT), 400, "invalid_input", "link-local"),
        (big, 413, "payload_too_large", "larger than"),
    ];
    for (body, status, code, words) in cases {
        let (got, err) = h
            .call(Method::POST, "/v1/integrations/gitlab/start", OWNER, Some(&body))
            .await;
        assert_eq!(
            (got, err["code"].as_str()),
            (status, Some(code)),
            "body {}: {err}",
            &body[..body.len().min(120)]
        );
        assert!(
            err["error"].as_str().unwrap().contains(words),
            "message for {code} should mention {words:?}: {err}"
        );
    }
    let (status, err) = h.call(Method::GET, "/v1/integrations?limit=0", OWNER, None).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_request")));
    let (status, _) = h.call(Method::GET, "/v1/integrations?sort=colour", OWNER, None).await;
    assert_eq!(status, 400);
    let (status, _) = h
        .call(Method::GET, "/v1/integrations/x/repositories?limit=101", OWNER, None)
        .await;
    assert_eq!(status, 400);
    let (status, err) = h.call(Method::PUT, "/v1/integrations/x", OWNER, None).await;
    assert_eq!((status, err["code"].as_str()), (405, Some("method_not_allowed")));
    let (status, _) = h.call(Method::GET, "/v1/integrations/unknown", OWNER, None).await;
    assert_eq!(status, 404);
    let (_, list) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(list["total"], 0, "no bad request created anything");
}

#[tokio::test]
async fn gitlab_refusals_and_outages_map_to_the_contract() {
    let h = Harness::new(Backend::Memory, options(1)).await;
    let base = h.gitlab.base_url.clone();
    h.gitlab
        .state
        .add_token("glpat-readonly", FakeToken::live(&["read_api"]));
    h.gitlab
        .state
        .add_token("glpat-userless", FakeToken::live(&["read_repository"]));
    h.gitlab.state.add_token(
        "glpat-expired",
        FakeToken {
            state: TokenState::Expired,
            ..FakeToken::live(&["api"])
        },
    );
    h.gitlab.state.add_token(
        "glpat-revoked",
        FakeToken {
            state: TokenState::Revoked,
            ..FakeToken::live(&["api"])
        },
    );
    let cases = [
        ("glpat-readonly", 400, "gitlab_scope_missing"),
        ("glpat-userless", 400, "gitlab_auth_failed"),
        ("glpat-expired", 400, "gitlab_auth_failed"),
        ("glpat-revoked", 400, "gitlab_auth_failed"),
        ("glpat-unknown", 400, "gitlab_auth_failed"),
    ];
    for (token, status, code) in cases {
        let (got, err) = h
            .call(
                Method::POST,
                "/v1/integrations/gitlab/start",
                OWNER,
                Some(&start_body(&base, token)),
            )
            .await;
        assert_eq!((got, err["code"].as_str()), (status, Some(code)), "{token}: {err}");
        assert!(!err.to_string().contains(token), "the token never appears in an error");
    }
    // Nothing listens on port 9 of loopback: unreachable.
    let (status, err) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            OWNER,
            Some(&start_body("http://127.0.0.1:9", PAT)),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (502, Some("gitlab_api_error")));
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, err) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            OWNER,
            Some(&start_body(&base, PAT)),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (502, Some("gitlab_api_error")));
    let (_, list) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(list["total"], 0);
}
