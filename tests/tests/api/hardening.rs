//! Hardening, one test per concern: weak keys, caller-controlled numbers, links built from
//! client headers, errors that echo GitLab's connection details.

use http::Method;
use oore_gitlab_tests::{Backend, Harness, SIGNING_KEY};
use oore_local::fake_gitlab::{FakeOptions, FakeToken};
use secrecy::SecretString;
use serde_json::json;
use shared::inbound::http::auth::{Role, issue_token};
use shared::ports::Clock;

const OWNER: Option<Role> = Some(Role::Owner);

#[tokio::test]
async fn a_short_caller_key_verifies_nothing() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let (status, _) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(status, 200);
    // An operator replaced the key with a short one: a token signed with it must not pass.
    let config = &h.app.services.config;
    h.app
        .services
        .vault
        .put_secret(&config.caller_key_secret_id, &SecretString::from(String::new()))
        .await
        .unwrap();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "x", "role": "owner", "iss": config.token_issuer, "aud": config.token_audience,
                "exp": h.clock.now() + 3600, "iat": h.clock.now()}),
        &jsonwebtoken::EncodingKey::from_secret(b""),
    )
    .unwrap();
    let (status, body) = h.call_with(Method::GET, "/v1/integrations", &forged, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("auth_unavailable")),
        "{body}"
    );
    assert!(
        issue_token(
            &SecretString::from("short".to_string()),
            "u",
            Role::Owner,
            "i",
            "a",
            0,
            60
        )
        .is_err()
    );
}

#[tokio::test]
async fn a_short_master_key_derives_nothing() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let config = &h.app.services.config;
    h.app
        .services
        .vault
        .put_secret(&config.master_key_secret_id, &SecretString::from("tiny".to_string()))
        .await
        .unwrap();
    let body = json!({"host_url": h.gitlab.base_url, "auth_mode": "personal_token",
                      "access_token": oore_gitlab_tests::PAT})
    .to_string();
    let (status, answer) = h
        .call(Method::POST, "/v1/integrations/gitlab/start", OWNER, Some(&body))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("secrets_unavailable")),
        "{answer}"
    );
    let (_, list) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(
        list["integrations"].as_array().map(Vec::len),
        Some(0),
        "nothing half-made: {list}"
    );
}

/// Caller tokens' times: expired, issued or valid only in the future, or made to live longer
/// than `MAX_TOKEN_LIFETIME_SECONDS` (30 days by default) are refused; numbers at the ends of
/// time are refused without overflowing.
#[tokio::test]
async fn caller_tokens_are_refused_outside_their_times_and_past_the_longest_lifetime() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let config = &h.app.services.config;
    assert_eq!(config.max_token_lifetime_secs, 30 * 86_400);
    let now = h.clock.now();
    let token = |times: serde_json::Value| {
        let mut claims = json!({"sub": "u", "role": "owner", "iss": config.token_issuer, "aud": config.token_audience});
        claims
            .as_object_mut()
            .unwrap()
            .extend(times.as_object().unwrap().clone());
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SIGNING_KEY.as_bytes()),
        )
        .unwrap()
    };
    let cases = [
        (json!({"iat": now, "exp": now + 30 * 86_400}), 200, "thirty days"),
        (
            json!({"iat": now - 10, "exp": now + 3600, "nbf": now - 10}),
            200,
            "valid since a moment ago",
        ),
        (
            json!({"iat": now, "exp": now + 30 * 86_400 + 1}),
            401,
            "a second past thirty days",
        ),
        (json!({"iat": now + 3600, "exp": now + 7200}), 401, "issued in an hour"),
        (
            json!({"iat": now, "exp": now + 7200, "nbf": now + 3600}),
            401,
            "valid from an hour on",
        ),
        (json!({"iat": now - 7200, "exp": now - 3600}), 401, "expired"),
        (json!({"exp": now + 3600}), 401, "no iat"),
        (
            json!({"iat": i64::MAX - 10, "exp": i64::MAX}),
            401,
            "issued at the end of time",
        ),
        (
            json!({"iat": i64::MIN, "exp": i64::MAX}),
            401,
            "living from the start to the end of time",
        ),
    ];
    for (times, expected, what) in cases {
        let (status, body) = h.call_with(Method::GET, "/v1/integrations", &token(times), None).await;
        assert_eq!(status, expected, "{what}: {body}");
        if expected == 401 {
            assert_eq!(body["code"], "invalid_session", "{what}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_gitlab_is_named_without_its_connection_details() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    // A closed loopback port: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let body = json!({"host_url": format!("http://127.0.0.1:{port}"), "auth_mode": "personal_token",
                      "access_token": oore_gitlab_tests::PAT})
    .to_string();
    let (status, answer) = h
        .call(Method::POST, "/v1/integrations/gitlab/start", OWNER, Some(&body))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (502, Some("gitlab_api_error")),
        "{answer}"
    );
    let details = answer["details"].to_string();
    assert!(details.contains("GitLab is unreachable"), "{answer}");
    for leak in [
        port.to_string().as_str(),
        "127.0.0.1",
        "os error",
        "refused",
        "error sending request",
    ] {
        assert!(!details.contains(leak), "`{leak}` reached the caller: {answer}");
    }
}

/// After `PUT …/gitlab-token`, another warm function must not keep using the old token from its
/// secret cache: once the user revokes it, syncs there would fail and flip the integration to
/// `error`.
#[tokio::test]
async fn a_replaced_token_is_used_at_once_by_other_warm_functions_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let started = h.connect().await;
    let id = started["integration"]["id"].as_str().unwrap().to_string();
    let other = h.second_app().await;
    // The other function reads (and caches) the current token.
    let check = format!("/v1/integrations/{id}/gitlab-token/check");
    let (status, body) = h.call_on(&other, Method::POST, &check, Role::Owner, Some("{}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("valid")), "{body}");

    const REPLACEMENT: &str = "glpat-replacement";
    h.gitlab.state.add_token(REPLACEMENT, FakeToken::live(&["api"]));
    let (status, body) = h
        .call(
            Method::PUT,
            &format!("/v1/integrations/{id}/gitlab-token"),
            OWNER,
            Some(&json!({"access_token": REPLACEMENT}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    h.gitlab.state.revoke_token(oore_gitlab_tests::PAT);

    let (status, body) = h.call_on(&other, Method::POST, &check, Role::Owner, Some("{}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("valid")), "{body}");
    let sync = format!("/v1/integrations/{id}/installations");
    let (status, body) = h.call_on(&other, Method::POST, &sync, Role::Owner, Some("{}")).await;
    assert_eq!(status, 200, "{body}");
    h.sync_settled(&id).await;
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["integration"]["status"], "active", "{detail}");
    assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
}
