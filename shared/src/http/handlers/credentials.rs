//! An integration's GitLab access token, ready to use: read from the (cached) vault, and for an
//! OAuth integration refreshed when near expiry — by one Lambda at a time.
//!
//! GitLab revokes a refresh token the moment it issues a new one, so two refreshes racing lock
//! the integration out. The refresher holds a lease on the integration's record (a conditional
//! write); everyone else waits for the record's `token_expires_at` to move and then reads the
//! new token past the cache.

use std::time::Duration;

use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use super::super::error::ApiError;
use super::super::App;
use super::gitlab_unavailable;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::oauth::{OAuthClient, REFRESH_MARGIN_SECS};
use crate::domain::secrets::Credentials;
use crate::ports::{GitLabError, StoreError, VaultError};

/// How long a refresher may hold the lease (GitLab's token call times out well within it).
const LEASE_SECS: i64 = 30;
/// How long a request waits for another Lambda's refresh before giving up, and how often it looks.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(150);

pub(super) fn credentials_missing() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "credentials_missing", "the saved GitLab credentials are missing; replace the token or reconnect")
}

pub(super) fn reconnect_required() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "gitlab_reconnect_required", "GitLab no longer accepts this integration's authorization; authorize it again")
}

/// The integration's credentials from the vault; `fresh` reads past the cache.
pub(super) async fn read_credentials(app: &App, integration_id: &str, fresh: bool) -> Result<Credentials, ApiError> {
    let name = app.config.credentials_secret_name(integration_id);
    let secret = if fresh { app.vault.get_secret_fresh(&name).await? } else { app.vault.get_secret(&name).await? };
    let secret = secret.ok_or_else(credentials_missing)?;
    Credentials::from_secret_json(&secret).map_err(|_| credentials_missing())
}

/// Replaces the integration's credentials (the secret exists since connect).
pub(super) async fn write_credentials(app: &App, integration_id: &str, credentials: &Credentials) -> Result<(), ApiError> {
    let name = app.config.credentials_secret_name(integration_id);
    match app.vault.put_secret(&name, &credentials.to_secret_json()).await {
        Err(VaultError::NotFound) => Err(credentials_missing()),
        other => Ok(other?),
    }
}

/// The OAuth application of an integration, its secret read from the credentials.
pub(super) fn oauth_client(integration: &IntegrationRecord, credentials: &Credentials) -> Result<OAuthClient, ApiError> {
    let id = integration.oauth_client_id.clone().ok_or_else(credentials_missing)?;
    let secret = credentials.client_secret.as_ref().ok_or_else(credentials_missing)?;
    Ok(OAuthClient { id, secret: SecretString::from(secret.expose_secret().to_string()) })
}

fn needs_refresh(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|at| at - REFRESH_MARGIN_SECS <= now)
}

/// The access token to call GitLab with.
pub(super) async fn access_token(app: &App, integration: &IntegrationRecord) -> Result<SecretString, ApiError> {
    if integration.auth_mode != AuthMode::OauthApp {
        return read_credentials(app, &integration.id, false).await?.access_token.ok_or_else(credentials_missing);
    }
    let started = tokio::time::Instant::now();
    let mut record = integration.clone();
    loop {
        match record.status {
            IntegrationStatus::Error => return Err(reconnect_required()),
            IntegrationStatus::Inactive => {
                return Err(ApiError::new(StatusCode::CONFLICT, "integration_inactive", "the integration is not authorized at GitLab yet; finish the authorization first"));
            }
            IntegrationStatus::Active => {}
        }
        let now = app.clock.now();
        if !needs_refresh(record.token_expires_at, now) {
            return current_token(app, &record).await;
        }
        let owner = uuid::Uuid::new_v4().to_string();
        if app.integrations.acquire_refresh_lease(&record.id, &owner, now, now + LEASE_SECS).await? {
            return refresh_holding_lease(app, &record.id, &owner).await;
        }
        if started.elapsed() > WAIT_FOR_REFRESH {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "gitlab_token_refresh_pending", "another request is still refreshing the GitLab token; try again shortly"));
        }
        tokio::time::sleep(POLL_EVERY).await;
        record = app.integrations.get_integration(&record.id).await?.ok_or_else(|| ApiError::not_found("integration"))?;
    }
}

/// The stored token that the record says is current: the cached copy if it is that one, else
/// a read past the cache (another Lambda refreshed it).
async fn current_token(app: &App, record: &IntegrationRecord) -> Result<SecretString, ApiError> {
    let cached = read_credentials(app, &record.id, false).await?;
    let credentials = if cached.expires_at == record.token_expires_at { cached } else { read_credentials(app, &record.id, true).await? };
    credentials.access_token.ok_or_else(credentials_missing)
}

async fn refresh_holding_lease(app: &App, integration_id: &str, owner: &str) -> Result<SecretString, ApiError> {
    // Re-read under the lease: another Lambda may have finished a refresh just before we took it.
    let mut record = app.integrations.get_integration(integration_id).await?.ok_or_else(|| ApiError::not_found("integration"))?;
    let now = app.clock.now();
    if !needs_refresh(record.token_expires_at, now) {
        release(app, &record, owner).await;
        return current_token(app, &record).await;
    }
    let credentials = match read_credentials(app, integration_id, true).await {
        Ok(c) => c,
        Err(err) => {
            release(app, &record, owner).await;
            return Err(err);
        }
    };
    let (client, refresh_token) = match (oauth_client(&record, &credentials), credentials.refresh_token.as_ref()) {
        (Ok(client), Some(token)) => (client, token),
        _ => return Err(mark_reconnect_required(app, record, owner, "no refresh token is stored").await),
    };
    match app.gitlab.refresh_tokens(&record.host_url, &client, refresh_token).await {
        Ok(tokens) => {
            let expires_at = tokens.expires_at(now);
            let renewed = Credentials {
                access_token: Some(SecretString::from(tokens.access_token.expose_secret().to_string())),
                // GitLab always rotates it; keep the old one if an odd version did not.
                refresh_token: Some(SecretString::from(tokens.refresh_token.as_ref().unwrap_or(refresh_token).expose_secret().to_string())),
                client_secret: Some(client.secret),
                expires_at,
            };
            // The old refresh token is dead now: losing the new one would lock the integration
            // out, so the write is retried before giving up.
            let mut written = write_credentials(app, integration_id, &renewed).await;
            for _ in 0..2 {
                if written.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                written = write_credentials(app, integration_id, &renewed).await;
            }
            if let Err(err) = written {
                tracing::error!(integration_id, "the refreshed GitLab token could not be stored; the integration must be authorized again");
                record.status = IntegrationStatus::Error;
                record.updated_at = now;
                release(app, &record, owner).await;
                return Err(err);
            }
            record.token_expires_at = expires_at;
            record.updated_at = now;
            match app.integrations.complete_refresh(&record, owner).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => tracing::warn!(integration_id, "the refresh lease ran out before the refresh was recorded"),
                Err(err) => return Err(err.into()),
            }
            tracing::info!(integration_id, "GitLab OAuth token refreshed");
            Ok(tokens.access_token)
        }
        Err(GitLabError::OAuthRefused { error }) => Err(mark_reconnect_required(app, record, owner, &error).await),
        Err(err) => {
            release(app, &record, owner).await;
            Err(gitlab_unavailable("gitlab_unavailable", &err))
        }
    }
}

async fn mark_reconnect_required(app: &App, mut record: IntegrationRecord, owner: &str, why: &str) -> ApiError {
    tracing::warn!(integration_id = %record.id, reason = why, "GitLab refused the token refresh; the integration needs a new authorization");
    record.status = IntegrationStatus::Error;
    record.updated_at = app.clock.now();
    release(app, &record, owner).await;
    reconnect_required()
}

/// Writes `record` and gives the lease back; a lost lease only means someone else moved on.
async fn release(app: &App, record: &IntegrationRecord, owner: &str) {
    if let Err(err) = app.integrations.complete_refresh(record, owner).await {
        tracing::warn!(integration_id = %record.id, error = %err, "could not release the refresh lease; it expires on its own");
    }
}
