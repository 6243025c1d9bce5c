//! Writes and syncs that fail half-way leave nothing behind; a replaced token must belong to the
//! same GitLab user; a sync survives rate limits within its concurrency.

use crate::personal_token_flow::{OWNER, options, start_body};
use async_trait::async_trait;
use http::Method;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{FakeOptions, FakeToken, TokenState};
use shared::domain::ids::IntegrationId;
use shared::domain::integration::{Installation, IntegrationRecord};
use shared::domain::webhook_keys::WebhookKey;
use shared::ports::{IntegrationStore, StoreError};
use std::sync::Arc;
use std::time::Duration;

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

/// A token replaced while the integration is being deleted (its secret already gone) answers
/// 404 and makes no new secret: one the delete would not purge, holding a live token.
async fn a_token_replaced_during_a_delete_makes_no_new_secret(backend: Backend) {
    let h = Harness::new(backend, options(2)).await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let name = h
        .app
        .services
        .config
        .credentials_secret_name(&IntegrationId::from(id.as_str()));
    h.app.services.vault.delete_secret(&name).await.unwrap();
    let (status, err) = h
        .call(
            Method::PUT,
            &format!("/v1/integrations/{id}/gitlab-token"),
            OWNER,
            Some(&format!(r#"{{"access_token":"{PAT}"}}"#)),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")), "{err}");
    assert!(h.app.services.vault.get_secret(&name).await.unwrap().is_none());
}

on_backends!(app a_token_replaced_during_a_delete_makes_no_new_secret: memory, embedded, moto);

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

/// GitLab down for a whole pass: the pass keeps taking its page up again for a while (so the
/// call answers with the pass still running), then fails, having removed nothing.
#[tokio::test]
async fn a_sync_that_fails_half_way_removes_nothing() {
    let h = Harness::new(Backend::Memory, options(300)).await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.gitlab.state.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, answer) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    h.sync_settled(&id).await;
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["sync"]["state"], "failed", "{detail}");
    assert_eq!(detail["repository_count"], 300);
}
