//! The personal-token flow through the handlers, request in and response out, against the fake
//! GitLab: on the embedded adapters and on DynamoDB and Secrets Manager (moto).

use oore_gitlab_tests::on_backends;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::Method;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{AVATAR_PNG, FakeOptions, FakeToken, TokenState};
use serde_json::{Value, json};
use shared::domain::ids::IntegrationId;
use shared::domain::integration::{Installation, IntegrationRecord};
use shared::domain::webhook_keys::WebhookKey;
use shared::inbound::http::auth::Role;
use shared::ports::{IntegrationStore, StoreError};

const OWNER: Option<Role> = Some(Role::Owner);

fn options(projects: usize) -> FakeOptions {
    FakeOptions {
        prefix: "/gitlab".into(),
        projects,
        delay: Duration::ZERO,
    }
}

async fn whole_flow(backend: Backend) {
    let h = Harness::new(backend, options(250)).await;
    let started = h.connect().await;
    let integration = &started["integration"];
    let id = integration["id"].as_str().unwrap().to_string();
    assert_eq!(integration["status"], "active");
    assert_eq!(integration["auth_mode"], "personal_token");
    assert_eq!(integration["provider"], "gitlab");
    assert_eq!(
        integration["host_url"], h.gitlab.base_url,
        "the /gitlab path prefix is kept"
    );
    assert!(
        integration["display_name"]
            .as_str()
            .unwrap()
            .starts_with("John Smith (")
    );
    assert_eq!(integration["created_by"], "user-1");
    assert_eq!(started["webhook_url"], "https://oore.example.com/v1/webhooks/gitlab");
    let secret = started["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("oore_") && secret.len() == 69);
    assert!(!started.to_string().contains(PAT), "the GitLab token is never echoed");

    let (status, list) = h
        .call(Method::GET, "/v1/integrations", Some(Role::Developer), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (list["total"].as_i64(), list["active_total"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(list["integrations"][0]["id"], id.as_str());

    let (status, detail) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}"),
            Some(Role::QaViewer),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["repository_count"], 250);
    assert_eq!(detail["installation_count"], 1);
    assert_eq!(detail["last_webhook_at"], Value::Null);

    // Repositories: sorted by full name, paged, searchable, privacy from visibility.
    let (status, page) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=3&offset=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 250);
    let names: Vec<_> = page["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "diaspora/project-00001",
            "diaspora/project-00002",
            "diaspora/project-00003"
        ]
    );
    let first = &page["repositories"][0];
    assert_eq!(first["external_id"], "1001");
    assert_eq!(first["is_private"], true, "internal projects are private");
    assert_eq!(first["default_branch"], "master");
    let (_, public) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?q=public&limit=100"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(public["total"], 84, "every third of 250 projects is public");
    assert!(
        public["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["is_private"] == false)
    );

    let (status, all) = h
        .call(Method::GET, "/v1/integration-repositories?q=project-00007", OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 1);
    assert_eq!(all["repositories"][0]["integration_id"], id.as_str());
    assert_eq!(all["repositories"][0]["host_url"], h.gitlab.base_url);
    assert_eq!(all["repositories"][0]["provider"], "gitlab");

    // Avatar through the integration's token.
    let (_, first_page) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=1"),
            OWNER,
            None,
        )
        .await;
    let repo_id = first_page["repositories"][0]["id"].as_str().unwrap().to_string();
    let (status, headers, bytes) = h
        .raw(
            Method::GET,
            &format!("/v1/integration-repositories/{repo_id}/avatar"),
            Some(&h.token(Role::Developer)),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    assert_eq!(bytes, AVATAR_PNG);
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=1&offset=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Re-sync: projects gone at GitLab are removed.
    h.gitlab.state.remove_projects(&[1000, 1001, 1002]);
    let (status, synced) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["installations"][0]["account_name"], "john_smith");
    assert_eq!(synced["installations"][0]["account_type"], "user");
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 247);
    let (status, _, _) = h
        .raw(
            Method::GET,
            &format!("/v1/integration-repositories/{repo_id}/avatar"),
            Some(&h.token(Role::Owner)),
            None,
        )
        .await;
    assert_eq!(status, 404, "a removed repository has no avatar any more");

    let (status, installs) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(installs["installations"].as_array().unwrap().len(), 1);

    // Token health.
    let (status, check) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/gitlab-token/check"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(check["status"], "valid");
    assert_eq!(check["expires_at"], 4_070_995_200i64, "end of 2099-01-01");
    assert_eq!(check["checked_at"], oore_gitlab_tests::START_TIME);

    // Delete: records and the secret go; a second delete finds nothing.
    let secret_name = h.app.services.config.credentials_secret_name(&id.as_str().into());
    assert!(h.app.services.vault.get_secret(&secret_name).await.unwrap().is_some());
    let (status, ok) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!((status, ok), (200, json!({"ok": true})));
    assert!(
        h.app.services.vault.get_secret(&secret_name).await.unwrap().is_none(),
        "the GitLab token is removed from the vault"
    );
    // The records go in the background, soon after the delete answered.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let integration_id = id.as_str().into();
        let repositories = h
            .app
            .services
            .repositories
            .list_repositories(&integration_id)
            .await
            .unwrap();
        let installations = h
            .app
            .services
            .integrations
            .list_installations(&integration_id)
            .await
            .unwrap();
        if repositories.is_empty() && installations.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted integration's records were not removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, gone) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("not_found")));
    let (_, list) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(list["total"], 0);
}

on_backends!(app whole_flow: memory, embedded, moto);

fn start_body(host: &str, token: &str) -> String {
    json!({"host_url": host, "auth_mode": "personal_token", "access_token": token}).to_string()
}

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

/// Loses every integration write, as DynamoDB throttling or an outage would.
struct BrokenWrites(Arc<dyn IntegrationStore>);

#[async_trait]
impl IntegrationStore for BrokenWrites {
    async fn create_integration(
        &self,
        _: &IntegrationRecord,
        _: Option<&Installation>,
        _: Option<&WebhookKey>,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("throttled".into()))
    }
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        self.0.get_integration(id).await
    }
    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.0.list_integrations().await
    }
    async fn update_integration(&self, r: &IntegrationRecord) -> Result<(), StoreError> {
        self.0.update_integration(r).await
    }
    async fn put_installation(&self, i: &Installation) -> Result<(), StoreError> {
        self.0.put_installation(i).await
    }
    async fn list_installations(&self, id: &IntegrationId) -> Result<Vec<Installation>, StoreError> {
        self.0.list_installations(id).await
    }
    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        self.0.retire_integration(id).await
    }
    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        self.0.delete_integration(id).await
    }
    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.0.acquire_refresh_lease(id, owner, now, until).await
    }
    async fn complete_refresh(
        &self,
        id: &IntegrationId,
        owner: &str,
        outcome: Option<&shared::ports::RefreshOutcome>,
    ) -> Result<(), StoreError> {
        self.0.complete_refresh(id, owner, outcome).await
    }
}

async fn failed_write_leaves_nothing(backend: Backend) {
    let mut h = Harness::new(backend, options(3)).await;
    // Remember every secret name the app creates by watching the vault before and after.
    let recorder = Arc::new(oore_gitlab_tests::RecordingVault::new(h.app.services.vault.clone()));
    h.app.services.vault = recorder.clone();
    h.app.services.integrations = Arc::new(BrokenWrites(h.app.services.integrations.clone()));
    let (status, err) = h
        .call(
            Method::POST,
            "/v1/integrations/gitlab/start",
            OWNER,
            Some(&start_body(&h.gitlab.base_url, PAT)),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (503, Some("storage_unavailable")));
    let created = recorder.created();
    assert_eq!(created.len(), 1, "the token was stored before the records");
    assert!(
        h.app.services.vault.get_secret(&created[0]).await.unwrap().is_none(),
        "and taken back when the records failed"
    );
    assert!(
        !err.to_string().contains("throttled"),
        "backend details stay in the log"
    );
}

on_backends!(app failed_write_leaves_nothing: memory, embedded, moto);

#[tokio::test]
async fn replacing_the_token_keeps_the_same_gitlab_user() {
    let h = Harness::new(Backend::Memory, options(2)).await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/integrations/{id}/gitlab-token");
    h.gitlab.state.add_token(
        "glpat-other-user",
        FakeToken {
            user_id: 99,
            username: "mallory".into(),
            ..FakeToken::live(&["api"])
        },
    );
    h.gitlab.state.add_token(
        "glpat-soon",
        FakeToken {
            expires_at: Some("2026-12-10".into()),
            ..FakeToken::live(&["api"])
        },
    );
    let (status, err) = h
        .call(
            Method::PUT,
            &path,
            OWNER,
            Some(r#"{"access_token":"glpat-other-user"}"#),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("gitlab_account_mismatch")));
    let (status, err) = h.call(Method::PUT, &path, OWNER, Some(r#"{"access_token":""}"#)).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_input")));
    let (status, err) = h
        .call(Method::PUT, &path, OWNER, Some(r#"{"access_token":"glpat-nobody"}"#))
        .await;
    assert_eq!((status, err["code"].as_str()), (400, Some("gitlab_auth_failed")));

    // The saved token gets revoked at GitLab: the check says so and the integration goes to error.
    h.gitlab.state.add_token(
        PAT,
        FakeToken {
            state: TokenState::Revoked,
            ..FakeToken::live(&["api"])
        },
    );
    let (status, check) = h.call(Method::POST, &format!("{path}/check"), OWNER, None).await;
    assert_eq!((status, check["status"].as_str()), (200, Some("rejected")));
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["integration"]["status"], "error");
    let (status, err) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("integration_inactive")));

    // A new token of the same user brings it back; it expires within 30 days.
    let (status, replaced) = h
        .call(Method::PUT, &path, OWNER, Some(r#"{"access_token":"glpat-soon"}"#))
        .await;
    assert_eq!(
        (status, replaced["status"].as_str()),
        (200, Some("expiring")),
        "{replaced}"
    );
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["integration"]["status"], "active");
    let (status, check) = h.call(Method::POST, &format!("{path}/check"), OWNER, None).await;
    assert_eq!((status, check["status"].as_str()), (200, Some("expiring")));
}

#[tokio::test]
async fn sync_survives_rate_limits_and_bounds_its_concurrency() {
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects: 2_500,
            delay: Duration::from_millis(20),
        },
    )
    .await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 2_500);
    let in_flight = h.gitlab.state.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(in_flight > 1, "pages are fetched side by side");
    assert!(
        in_flight <= h.app.services.config.sync_concurrency,
        "at most {} at once, saw {in_flight}",
        h.app.services.config.sync_concurrency
    );

    h.gitlab.state.set_projects(2_600);
    h.gitlab.state.rate_limit_next(3);
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 2_600, "429s were waited out, not dropped");
}

#[tokio::test]
async fn a_sync_that_fails_half_way_removes_nothing() {
    let h = Harness::new(Backend::Memory, options(300)).await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, err) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (502, Some("gitlab_api_error")));
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 300);
}
