//! An integration's GitLab credentials, ready to use: read from the (cached) vault, and for an
//! OAuth integration refreshed when near expiry — by one Lambda at a time.
//!
//! GitLab revokes a refresh token the moment it issues a new one, so two refreshes racing lock
//! the integration out. The refresher holds a lease on the integration's record (a conditional
//! write); everyone else waits for the record's `token_expires_at` to move and then reads the
//! new token past the cache.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::Services;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::oauth::{OAuthClient, REFRESH_MARGIN_SECS};
use crate::domain::secrets::{Credentials, WeakKey, require_strong_key};
use crate::ports::{GitLabError, StoreError, VaultError};

/// How long a refresher may hold the lease (GitLab's token call times out well within it).
const LEASE_SECS: i64 = 30;
/// How long a request waits for another Lambda's refresh before giving up, and how often it looks.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(150);

/// Why an integration's credentials cannot be used.
///
/// # Errors
/// - `Missing`: the vault holds no usable credentials; the token must be replaced or the
///   integration reconnected.
/// - `Inactive`: the integration is not active (an OAuth application never authorized).
/// - `ReconnectRequired`: GitLab refused the refresh (or the integration is marked so); the
///   user must authorize again.
/// - `RefreshPending`: another request holds the refresh lease and has not finished; retry soon.
/// - `IntegrationGone`: the integration was deleted meanwhile.
/// - `RefreshUnavailable`: GitLab could not be reached to refresh; retry later.
/// - `Store`, `Vault`: a backend failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the saved GitLab credentials are missing")]
    Missing,
    #[error("the integration is not active")]
    Inactive,
    #[error("GitLab no longer accepts the integration's credentials")]
    ReconnectRequired,
    #[error("another request is still refreshing the GitLab token")]
    RefreshPending,
    #[error("the integration no longer exists")]
    IntegrationGone,
    #[error("the token refresh could not reach GitLab: {0}")]
    RefreshUnavailable(GitLabError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Why the service's master key cannot be read.
///
/// # Errors
/// - `NotConfigured`: the vault has no master key (a deployment fault).
/// - `Weak`: the stored master key is shorter than 32 bytes (a deployment fault); nothing is
///   derived from it.
/// - `Vault`: the vault failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the service's master key is not configured")]
    NotConfigured,
    #[error(transparent)]
    Weak(#[from] WeakKey),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The master key webhook signing keys and PKCE verifiers derive from (cached vault read).
pub async fn master_key(services: &Services) -> Result<SecretString, MasterKeyError> {
    let key = services
        .vault
        .get_secret(&services.config.master_key_secret_id)
        .await?
        .ok_or_else(|| {
            tracing::error!("the master key is missing from the vault");
            MasterKeyError::NotConfigured
        })?;
    require_strong_key("master key", &key)
        .inspect_err(|err| tracing::error!(error = %err, "refusing the master key"))?;
    Ok(key)
}

/// The integration's credentials from the vault; `fresh` reads past the cache.
pub async fn read_credentials(
    services: &Services,
    integration_id: &IntegrationId,
    fresh: bool,
) -> Result<Credentials, CredentialsError> {
    let name = services.config.credentials_secret_name(integration_id);
    let secret = if fresh {
        services.vault.get_secret_fresh(&name).await?
    } else {
        services.vault.get_secret(&name).await?
    };
    let secret = secret.ok_or(CredentialsError::Missing)?;
    Credentials::from_secret_json(&secret).map_err(|_| CredentialsError::Missing)
}

/// Replaces the integration's credentials (the secret exists since connect).
pub async fn write_credentials(
    services: &Services,
    integration_id: &IntegrationId,
    credentials: &Credentials,
) -> Result<(), CredentialsError> {
    let name = services.config.credentials_secret_name(integration_id);
    match services.vault.put_secret(&name, &credentials.to_secret_json()).await {
        Err(VaultError::NotFound) => Err(CredentialsError::Missing),
        other => Ok(other?),
    }
}

/// The OAuth application of an integration, its secret read from the credentials.
pub fn oauth_client(
    integration: &IntegrationRecord,
    credentials: &Credentials,
) -> Result<OAuthClient, CredentialsError> {
    let id = integration.oauth_client_id.clone().ok_or(CredentialsError::Missing)?;
    let secret = credentials.client_secret.as_ref().ok_or(CredentialsError::Missing)?;
    Ok(OAuthClient {
        id,
        secret: SecretString::from(secret.expose_secret().to_string()),
    })
}

fn needs_refresh(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|at| at.saturating_sub(REFRESH_MARGIN_SECS) <= now)
}

/// The access token to call GitLab with.
pub async fn access_token(
    services: &Services,
    integration: &IntegrationRecord,
) -> Result<SecretString, CredentialsError> {
    if integration.auth_mode != AuthMode::OauthApp {
        return read_credentials(services, &integration.id, false)
            .await?
            .access_token
            .ok_or(CredentialsError::Missing);
    }
    let started = tokio::time::Instant::now();
    let mut record = integration.clone();
    loop {
        match record.status {
            IntegrationStatus::Error => return Err(CredentialsError::ReconnectRequired),
            IntegrationStatus::Inactive => return Err(CredentialsError::Inactive),
            IntegrationStatus::Active => {}
        }
        let now = services.clock.now();
        if !needs_refresh(record.token_expires_at, now) {
            return current_token(services, &record).await;
        }
        let owner = uuid::Uuid::new_v4().to_string();
        if services
            .integrations
            .acquire_refresh_lease(&record.id, &owner, now, now + LEASE_SECS)
            .await?
        {
            return refresh_holding_lease(services, &record.id, &owner).await;
        }
        if started.elapsed() > WAIT_FOR_REFRESH {
            return Err(CredentialsError::RefreshPending);
        }
        tokio::time::sleep(POLL_EVERY).await;
        record = services
            .integrations
            .get_integration(&record.id)
            .await?
            .ok_or(CredentialsError::IntegrationGone)?;
    }
}

/// The stored token that the record says is current: the cached copy if it is that one, else
/// a read past the cache (another Lambda refreshed it).
async fn current_token(services: &Services, record: &IntegrationRecord) -> Result<SecretString, CredentialsError> {
    let cached = read_credentials(services, &record.id, false).await?;
    let credentials = if cached.expires_at == record.token_expires_at {
        cached
    } else {
        read_credentials(services, &record.id, true).await?
    };
    credentials.access_token.ok_or(CredentialsError::Missing)
}

async fn refresh_holding_lease(
    services: &Services,
    integration_id: &IntegrationId,
    owner: &str,
) -> Result<SecretString, CredentialsError> {
    // Re-read under the lease: another Lambda may have finished a refresh just before we took it.
    let mut record = services
        .integrations
        .get_integration(integration_id)
        .await?
        .ok_or(CredentialsError::IntegrationGone)?;
    let now = services.clock.now();
    if !needs_refresh(record.token_expires_at, now) {
        release(services, &record, owner).await;
        return current_token(services, &record).await;
    }
    let credentials = match read_credentials(services, integration_id, true).await {
        Ok(c) => c,
        Err(err) => {
            release(services, &record, owner).await;
            return Err(err);
        }
    };
    let (client, refresh_token) = match (oauth_client(&record, &credentials), credentials.refresh_token.as_ref()) {
        (Ok(client), Some(token)) => (client, token),
        _ => return Err(mark_reconnect_required(services, record, owner, "no refresh token is stored").await),
    };
    match services
        .gitlab
        .refresh_tokens(&record.host_url, &client, refresh_token)
        .await
    {
        Ok(tokens) => {
            let expires_at = tokens.expires_at(now);
            let renewed = Credentials {
                access_token: Some(SecretString::from(tokens.access_token.expose_secret().to_string())),
                // GitLab always rotates it; keep the old one if an odd version did not.
                refresh_token: Some(SecretString::from(
                    tokens
                        .refresh_token
                        .as_ref()
                        .unwrap_or(refresh_token)
                        .expose_secret()
                        .to_string(),
                )),
                client_secret: Some(client.secret),
                expires_at,
            };
            // The old refresh token is dead now: losing the new one would lock the integration
            // out, so the write is retried before giving up.
            let mut written = write_credentials(services, integration_id, &renewed).await;
            for _ in 0..2 {
                if written.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                written = write_credentials(services, integration_id, &renewed).await;
            }
            if let Err(err) = written {
                tracing::error!(%integration_id, "the refreshed GitLab token could not be stored; the integration must be authorized again");
                record.status = IntegrationStatus::Error;
                record.updated_at = now;
                release(services, &record, owner).await;
                return Err(err);
            }
            record.token_expires_at = expires_at;
            record.updated_at = now;
            match services.integrations.complete_refresh(&record, owner).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => {
                    tracing::warn!(%integration_id, "the refresh lease ran out before the refresh was recorded")
                }
                Err(err) => return Err(err.into()),
            }
            tracing::info!(%integration_id, "GitLab OAuth token refreshed");
            Ok(tokens.access_token)
        }
        Err(GitLabError::OAuthRefused { error }) => Err(mark_reconnect_required(services, record, owner, &error).await),
        Err(err) => {
            release(services, &record, owner).await;
            Err(CredentialsError::RefreshUnavailable(err))
        }
    }
}

async fn mark_reconnect_required(
    services: &Services,
    mut record: IntegrationRecord,
    owner: &str,
    why: &str,
) -> CredentialsError {
    tracing::warn!(integration_id = %record.id, reason = why, "GitLab refused the token refresh; the integration needs a new authorization");
    record.status = IntegrationStatus::Error;
    record.updated_at = services.clock.now();
    release(services, &record, owner).await;
    CredentialsError::ReconnectRequired
}

/// Writes `record` and gives the lease back; a lost lease only means someone else moved on.
async fn release(services: &Services, record: &IntegrationRecord, owner: &str) {
    if let Err(err) = services.integrations.complete_refresh(record, owner).await {
        tracing::warn!(integration_id = %record.id, error = %err, "could not release the refresh lease; it expires on its own");
    }
}
