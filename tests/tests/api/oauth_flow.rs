//! OAuth application mode through the handlers against the fake GitLab's OAuth provider:
//! start → authorize → GitLab → callback → active → repositories → delete with revocation;
//! every way a callback can fail; refresh under a lease with 50 requests racing on moto.

use oore_gitlab_tests::on_backends;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::Method;
use oore_gitlab_tests::{Backend, CLIENT_ID, Harness, START_TIME, UI_REDIRECT};
use oore_local::fake_gitlab::{FakeOptions, TokenState};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

const OWNER: Option<Role> = Some(Role::Owner);

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Calls the callback like a browser; returns status, Location and body text.
async fn callback(h: &Harness, path_and_query: &str) -> (u16, Option<String>, String) {
    let (status, headers, body) = h.raw(Method::GET, path_and_query, None, None).await;
    let location = headers.get("location").map(|v| v.to_str().unwrap().to_string());
    (status, location, String::from_utf8(body).unwrap())
}

async fn integration(h: &Harness, id: &str) -> Value {
    let (status, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail
}

/// The integration's stored GitLab access token (what the handlers call GitLab with).
async fn stored_access_token(h: &Harness, id: &str) -> String {
    let secret = h
        .app
        .services
        .vault
        .get_secret_fresh(&h.app.services.config.credentials_secret_name(&id.into()))
        .await
        .unwrap()
        .unwrap();
    let credentials = shared::domain::secrets::Credentials::from_secret_json(&secret).unwrap();
    use secrecy::ExposeSecret;
    credentials.access_token.unwrap().expose_secret().to_string()
}

async fn whole_flow(backend: Backend) {
    let h = Harness::new(
        backend,
        FakeOptions {
            prefix: "/gitlab".into(),
            ..FakeOptions::default()
        },
    )
    .await;
    let id = h.connect_oauth().await;
    let detail = integration(&h, &id).await;
    assert_eq!(
        (
            detail["integration"]["status"].as_str(),
            detail["integration"]["auth_mode"].as_str()
        ),
        (Some("inactive"), Some("oauth_app"))
    );
    assert_eq!(detail["installation_count"], 0);

    // The authorize URL: under the host's path prefix, PKCE S256, our callback, a state.
    let body = json!({"integration_id": id, "redirect_url": UI_REDIRECT}).to_string();
    let (status, answer) = h
        .call(Method::POST, "/v1/integrations/gitlab/authorize", OWNER, Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    let url = answer["authorize_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", h.gitlab.base_url)),
        "{url}"
    );
    assert_eq!(param(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        param(url, "redirect_uri").as_deref(),
        Some("https://oore.example.com/v1/integrations/gitlab/callback")
    );
    assert_eq!(param(url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(url, "code_challenge").map(|c| c.len()), Some(43));
    assert!(param(url, "state").is_some_and(|s| s.len() >= 43));

    // Browser → GitLab → callback → 303 to the UI.
    let back = h.authorize_at_gitlab(&id).await;
    let (status, location, _) = callback(&h, &back).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.starts_with("https://ui.example.com/settings/integrations?tab=gitlab&"),
        "{location}"
    );
    assert_eq!(param(&location, "gitlab").as_deref(), Some("success"));
    assert_eq!(param(&location, "integration_id").as_deref(), Some(id.as_str()));

    let detail = integration(&h, &id).await;
    assert_eq!(detail["integration"]["status"], "active");
    assert_eq!(detail["installation_count"], 1);
    assert_eq!(detail["repository_count"], 3);
    let (_, repos) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories"),
            Some(Role::Developer),
            None,
        )
        .await;
    assert_eq!(repos["total"], 3);
    assert_eq!(h.gitlab.state.oauth.exchanges.load(Ordering::SeqCst), 1);

    // The same answer again (a reload, or a replay) is refused and changes nothing.
    let (status, location, page) = callback(&h, &back).await;
    assert_eq!((status, location), (200, None));
    assert!(page.contains("unknown or was already used"), "{page}");

    // Hooks on two projects; someone removes one at GitLab by hand (its delete will be a 404).
    let listed = repos["repositories"].as_array().unwrap();
    let hooked: Vec<(String, u64)> = listed[..2]
        .iter()
        .map(|r| {
            let project = r["external_id"].as_str().unwrap().parse().unwrap();
            (r["id"].as_str().unwrap().to_string(), project)
        })
        .collect();
    for (repository, _) in &hooked {
        let path = format!("/v1/integration-repositories/{repository}/gitlab-webhook");
        let (status, answer) = h.call(Method::POST, &path, OWNER, Some("{}")).await;
        assert_eq!(status, 200, "{answer}");
    }
    h.gitlab.state.hooks_clear(hooked[1].1);

    // Delete removes the hooks while the token still works (a hook GitLab no longer has counts
    // as removed), then revokes both tokens at GitLab, then removes the secret.
    let access = stored_access_token(&h, &id).await;
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert!(
        h.gitlab.state.hooks(hooked[0].1).is_empty(),
        "the hook went before the token that removes it was revoked"
    );
    assert_eq!(h.gitlab.state.oauth.revocations.load(Ordering::SeqCst), 2);
    assert_eq!(h.gitlab.state.token_state(&access), Some(TokenState::Revoked));
    assert_eq!(h.gitlab.state.oauth.live_refresh_tokens(), 0);
    assert!(
        h.app
            .services
            .vault
            .get_secret_fresh(&h.app.services.config.credentials_secret_name(&id.as_str().into()))
            .await
            .unwrap()
            .is_none()
    );
}

on_backends!(app whole_flow: memory, embedded, moto);

#[tokio::test]
async fn every_callback_failure_shows_a_page_and_changes_nothing() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let id = h.connect_oauth().await;
    let inactive = |detail: Value| detail["integration"]["status"] == "inactive";

    // The user declines at GitLab.
    h.gitlab.state.oauth.deny_next.store(true, Ordering::SeqCst);
    let back = h.authorize_at_gitlab(&id).await;
    assert!(back.contains("error=access_denied"));
    let (status, _, page) = callback(&h, &back).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("GitLab returned an error: The resource owner or authorization server denied the request."),
        "{page}"
    );
    assert!(page.starts_with("<!doctype html>"));

    // No code, no state, nonsense state, markup in GitLab's description (escaped).
    for (query, words) in [
        ("", "missing the authorization code"),
        ("?code=abc", "missing the authorization code"),
        ("?code=abc&state=made-up", "unknown or was already used"),
        (
            "?error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "&lt;script&gt;",
        ),
    ] {
        let (status, _, page) = callback(&h, &format!("/v1/integrations/gitlab/callback{query}")).await;
        assert_eq!(status, 200);
        assert!(page.contains(words), "{query}: {page}");
        assert!(!page.contains("<script>"));
    }

    // An expired state.
    let back = h.authorize_at_gitlab(&id).await;
    h.clock.0.store(START_TIME + 601, Ordering::SeqCst);
    let (_, _, page) = callback(&h, &back).await;
    assert!(page.contains("has expired"), "{page}");
    h.clock.0.store(START_TIME, Ordering::SeqCst);

    // A code GitLab does not know (tampered with): GitLab refuses, nothing is stored.
    let back = h.authorize_at_gitlab(&id).await;
    let state = param(&format!("https://x{back}"), "state").unwrap();
    let (_, _, page) = callback(
        &h,
        &format!("/v1/integrations/gitlab/callback?code=not-a-code&state={state}"),
    )
    .await;
    assert!(
        page.contains("GitLab did not accept the authorization code (invalid_grant)"),
        "{page}"
    );
    assert!(inactive(integration(&h, &id).await));
    assert_eq!(h.gitlab.state.oauth.exchanges.load(Ordering::SeqCst), 0);

    // GitLab down at the exchange.
    let back = h.authorize_at_gitlab(&id).await;
    h.gitlab.state.failing.store(true, Ordering::SeqCst);
    let (_, _, page) = callback(&h, &back).await;
    h.gitlab.state.failing.store(false, Ordering::SeqCst);
    assert!(page.contains("could not be reached"), "{page}");
    assert!(inactive(integration(&h, &id).await));

    // Completing through the API: a state for another integration is refused; the right one works.
    let other = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&id).await;
    let code = param(&format!("https://x{back}"), "code").unwrap();
    let state = param(&format!("https://x{back}"), "state").unwrap();
    let body = json!({"integration_id": other, "code": code, "state": state}).to_string();
    let (status, err) = h
        .call(Method::POST, "/v1/integrations/gitlab/authorize", OWNER, Some(&body))
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_state")));
    assert!(inactive(integration(&h, &other).await) && inactive(integration(&h, &id).await));
    let back = h.authorize_at_gitlab(&id).await;
    let body = json!({"code": param(&format!("https://x{back}"), "code"), "state": param(&format!("https://x{back}"), "state")}).to_string();
    let (status, done) = h
        .call(Method::POST, "/v1/integrations/gitlab/authorize", OWNER, Some(&body))
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (
            done["integration"]["id"].as_str(),
            done["integration"]["status"].as_str()
        ),
        (Some(id.as_str()), Some("active"))
    );
    // The code of that authorization cannot be used twice, even with a new state.
    let fresh = h.authorize_at_gitlab(&id).await;
    let body = json!({"code": param(&format!("https://x{back}"), "code"), "state": param(&format!("https://x{fresh}"), "state")}).to_string();
    let (status, err) = h
        .call(Method::POST, "/v1/integrations/gitlab/authorize", OWNER, Some(&body))
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("gitlab_auth_failed")));
    assert_eq!(h.gitlab.state.oauth.exchanges.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn authorize_refuses_bad_input_in_the_envelope() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let id = h.connect_oauth().await;
    let pat = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let cases = [
        (json!({"redirect_url": UI_REDIRECT}), 400, "invalid_input"),
        (json!({"integration_id": id}), 400, "invalid_input"),
        (
            json!({"integration_id": id, "redirect_url": "https://evil.example.com/"}),
            400,
            "invalid_redirect_url",
        ),
        (
            json!({"integration_id": id, "redirect_url": "https://user:pw@ui.example.com/"}),
            400,
            "invalid_redirect_url",
        ),
        (
            json!({"integration_id": id, "redirect_url": "not a url"}),
            400,
            "invalid_redirect_url",
        ),
        (
            json!({"integration_id": pat, "redirect_url": UI_REDIRECT}),
            400,
            "invalid_auth_mode",
        ),
        (
            json!({"integration_id": "nope", "redirect_url": UI_REDIRECT}),
            404,
            "not_found",
        ),
        (json!({"code": "abc"}), 400, "invalid_input"),
        (json!({"code": "abc", "state": "x".repeat(600)}), 400, "invalid_state"),
    ];
    for (body, status, code) in cases {
        let (got, err) = h
            .call(
                Method::POST,
                "/v1/integrations/gitlab/authorize",
                OWNER,
                Some(&body.to_string()),
            )
            .await;
        assert_eq!((got, err["code"].as_str()), (status, Some(code)), "{body}: {err}");
    }
    let body = json!({"integration_id": id, "redirect_url": UI_REDIRECT}).to_string();
    let (status, _) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/authorize",
            Some(Role::Developer),
            Some(&body),
        )
        .await;
    assert_eq!(status, 403);
    // An inactive OAuth integration cannot be synced yet.
    let (status, err) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("integration_inactive")));
    // Start needs GitLab to answer at the host.
    let body =
        json!({"host_url": "http://127.0.0.1:9", "auth_mode": "oauth_app", "client_id": "a", "client_secret": "b"})
            .to_string();
    let (status, err) = h
        .call(Method::POST, "/v1/integrations/gitlab/start", OWNER, Some(&body))
        .await;
    assert_eq!((status, err["code"].as_str()), (502, Some("gitlab_api_error")));
}

/// An active OAuth integration on `backend` whose access token has just expired.
async fn expired_integration(backend: Backend) -> (Arc<Harness>, String, String) {
    let h = Harness::new(backend, FakeOptions::default()).await;
    let id = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&id).await;
    assert_eq!(callback(&h, &back).await.0, 303);
    let old = stored_access_token(&h, &id).await;
    h.gitlab.state.expire_token(&old);
    h.clock.0.store(START_TIME + 7200, Ordering::SeqCst);
    (Arc::new(h), id, old)
}

#[tokio::test]
async fn fifty_requests_on_an_expired_token_make_one_refresh_on_moto() {
    let (h, id, old) = expired_integration(Backend::Moto).await;
    let path = format!("/v1/integrations/{id}/installations");
    let requests = (0..50).map(|_| {
        let (h, path) = (h.clone(), path.clone());
        tokio::spawn(async move { h.call(Method::POST, &path, OWNER, Some("{}")).await })
    });
    for answer in futures::future::join_all(requests).await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh reached GitLab"
    );
    assert_eq!(h.gitlab.state.oauth.live_refresh_tokens(), 1);
    let new = stored_access_token(&h, &id).await;
    assert_ne!(new, old);
    assert_eq!(integration(&h, &id).await["integration"]["status"], "active");
    let record = h
        .app
        .services
        .integrations
        .get_integration(&id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.token_expires_at, Some(START_TIME + 7200 + 7200));
    assert_eq!(record.refresh_lease_owner, None, "the lease is released");
}

/// GitLab refuses an access token our record still thinks valid (revoked at GitLab, a clock
/// ahead, an expiry shorter than announced): one refresh under the lease, every request served.
#[tokio::test]
async fn a_token_refused_before_its_expiry_is_refreshed_once_for_thirty_requests_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let id = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&id).await;
    assert_eq!(callback(&h, &back).await.0, 303);
    let h = Arc::new(h);
    let (_, list) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=100"),
            OWNER,
            None,
        )
        .await;
    let repository = list["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["avatar_url"].is_string())
        .unwrap_or_else(|| panic!("no repository with an avatar: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The clock is not moved: the record says the token has hours left.
    let old = stored_access_token(&h, &id).await;
    h.gitlab.state.expire_token(&old);
    let refreshes_before = h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst);
    let path = format!("/v1/integration-repositories/{repository}/avatar");
    let requests = (0..30).map(|_| {
        let (h, path) = (h.clone(), path.clone());
        tokio::spawn(async move {
            let (status, _, body) = h.raw(Method::GET, &path, Some(&h.token(Role::Owner)), None).await;
            (status, String::from_utf8_lossy(&body).to_string())
        })
    });
    for answer in futures::future::join_all(requests).await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst) - refreshes_before,
        1,
        "exactly one refresh reached GitLab"
    );
    assert_ne!(stored_access_token(&h, &id).await, old);
    assert_eq!(integration(&h, &id).await["integration"]["status"], "active");

    // A sync that meets the refusal mid-walk renews the same way and completes.
    let newer = stored_access_token(&h, &id).await;
    h.gitlab.state.expire_token(&newer);
    h.sync_and_settle(&id).await;
    let detail = integration(&h, &id).await;
    assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
    assert_eq!(detail["integration"]["status"], "active");
    assert_eq!(
        h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst) - refreshes_before,
        2
    );
}

/// A refresh killed half-way (GitLab rotated the refresh token, the new one not yet stored)
/// locks the integration out: with too little of the invocation left, none is started.
#[tokio::test]
async fn no_refresh_starts_too_close_to_the_invocations_deadline() {
    let (h, id, old) = expired_integration(Backend::Memory).await;
    let sync = format!("/v1/integrations/{id}/installations");
    let soon = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let (status, err) = shared::app::deadline::within(soon, h.call(Method::POST, &sync, OWNER, Some("{}"))).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (503, Some("gitlab_token_refresh_pending")),
        "{err}"
    );
    assert_eq!(
        h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst),
        0,
        "nothing reached GitLab"
    );
    assert_eq!(stored_access_token(&h, &id).await, old);
    let record = h
        .app
        .services
        .integrations
        .get_integration(&id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.refresh_lease_owner, None, "no lease was taken");
    // With time enough, the same call refreshes.
    let later = tokio::time::Instant::now() + std::time::Duration::from_secs(29);
    let (status, body) = shared::app::deadline::within(later, h.call(Method::POST, &sync, OWNER, Some("{}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_refresh_asks_for_reconnection_and_authorize_reconnects() {
    let (h, id, _) = expired_integration(Backend::Memory).await;
    // Someone else used the refresh token (another copy of the integration, or a revocation).
    let refresh_gone = h.gitlab.state.oauth.live_refresh_tokens();
    assert_eq!(refresh_gone, 1);
    h.gitlab
        .state
        .oauth
        .add_app(CLIENT_ID, "rotated-secret", oore_gitlab_tests::CALLBACK_URL);
    let (status, err) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("gitlab_reconnect_required")),
        "{err}"
    );
    assert_eq!(integration(&h, &id).await["integration"]["status"], "error");
    let (status, err) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("integration_inactive")));
    assert_eq!(h.gitlab.state.oauth.refreshes.load(Ordering::SeqCst), 0);

    // The application secret is fixed at GitLab again; authorizing once more reconnects.
    h.gitlab.state.oauth.add_app(
        CLIENT_ID,
        oore_gitlab_tests::CLIENT_SECRET,
        oore_gitlab_tests::CALLBACK_URL,
    );
    let back = h.authorize_at_gitlab(&id).await;
    assert_eq!(callback(&h, &back).await.0, 303);
    assert_eq!(integration(&h, &id).await["integration"]["status"], "active");
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn delete_goes_ahead_when_gitlab_cannot_revoke() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let id = h.connect_oauth().await;
    let back = h.authorize_at_gitlab(&id).await;
    assert_eq!(callback(&h, &back).await.0, 303);
    h.gitlab.state.failing.store(true, Ordering::SeqCst);
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.gitlab.state.oauth.revocations.load(Ordering::SeqCst), 0);
    let (status, _) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 404);
}
