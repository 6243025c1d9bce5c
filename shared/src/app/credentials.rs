//! An integration's GitLab credentials, ready to use: read from the (cached) vault, and for an
//! OAuth integration refreshed when near expiry, or when GitLab refuses a token the record still
//! thinks valid — by one Lambda at a time.
//!
//! GitLab revokes a refresh token the moment it issues a new one, so two refreshes racing lock
//! the integration out. The refresher holds a lease on the integration's record (a conditional
//! write); everyone else waits for the record's `credentials_version` to move and then reads the
//! new token past the cache. A refresh is only started with time left to store its result.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::app::Services;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::oauth::{OAuthClient, REFRESH_MARGIN_SECS};
use crate::domain::secrets::{Credentials, copy_secret};
use crate::ports::{GitLabError, RefreshOutcome, StoreError, VaultError};

/// How long GitLab's token endpoint may take before the refresh is given up.
const REFRESH_CALL_LIMIT: Duration = Duration::from_secs(8);
/// The time a refresh needs: GitLab's answer, then storing the new pair (with its retries). A
/// request with less time left does not start one: killed half-way, after GitLab rotated the
/// refresh token but before the new one is stored, it would lock the integration out.
const REFRESH_NEEDS: Duration = Duration::from_secs(13);
/// How long a refresher may hold the lease: longer than a refresh takes, shorter than a
/// function's timeout (29 s), so a refresher that was killed frees it soon.
const LEASE_SECS: i64 = 15;
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
/// - `RefreshPending`: another request holds the refresh lease and has not finished, or this
///   invocation has too little time left to refresh safely; retry soon.
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

/// A token to call GitLab with, and the credentials version it was stored as.
pub struct TokenInUse {
    pub token: SecretString,
    pub version: u64,
}

/// The access token to call GitLab with.
pub async fn access_token(
    services: &Services,
    integration: &IntegrationRecord,
) -> Result<SecretString, CredentialsError> {
    Ok(current_token(services, integration).await?.token)
}

/// Calls GitLab with the integration's token. When GitLab answers 401, the call is made once
/// more with a newer token if there is one: another function replaced or refreshed it (the
/// cache held the old one), or, for OAuth, a refresh under the lease makes one. Only a token
/// that stays refused is GitLab's 401 to the caller.
///
/// # Errors
/// The outer error: no token could be had ([`CredentialsError`]). The inner one: GitLab's answer.
pub async fn with_token<T, F, Fut>(
    services: &Services,
    integration: &IntegrationRecord,
    call: F,
) -> Result<Result<T, GitLabError>, CredentialsError>
where
    F: Fn(SecretString) -> Fut,
    Fut: Future<Output = Result<T, GitLabError>>,
{
    let first = current_token(services, integration).await?;
    match call(copy_secret(&first.token)).await {
        Err(GitLabError::Unauthorized(description)) => match renew_refused(services, &integration.id, &first).await? {
            Some(next) => Ok(call(next.token).await),
            None => Ok(Err(GitLabError::Unauthorized(description))),
        },
        other => Ok(other),
    }
}

/// The token the integration's record says is current, refreshed first when near expiry.
pub async fn current_token(
    services: &Services,
    integration: &IntegrationRecord,
) -> Result<TokenInUse, CredentialsError> {
    if integration.auth_mode != AuthMode::OauthApp {
        return stored_token(services, integration).await;
    }
    refresh_when(services, integration.clone(), RefreshWhen::NearExpiry).await
}

/// After GitLab refused `refused` (401): a newer token to retry with, if one exists or can be
/// made; `None` if the stored token is the refused one and cannot be renewed (a personal token).
pub async fn renew_refused(
    services: &Services,
    integration_id: &IntegrationId,
    refused: &TokenInUse,
) -> Result<Option<TokenInUse>, CredentialsError> {
    let record = services
        .integrations
        .get_integration(integration_id)
        .await?
        .ok_or(CredentialsError::IntegrationGone)?;
    if record.credentials_version > refused.version {
        return stored_token(services, &record).await.map(Some);
    }
    if record.auth_mode != AuthMode::OauthApp {
        // Records from before versions existed: the vault itself may hold a newer token.
        let stored = read_credentials(services, integration_id, true).await?;
        let token = stored.access_token.ok_or(CredentialsError::Missing)?;
        let newer = token.expose_secret() != refused.token.expose_secret();
        return Ok(newer.then_some(TokenInUse {
            token,
            version: stored.version,
        }));
    }
    tracing::info!(%integration_id, "GitLab refused an OAuth token before its recorded expiry; refreshing it");
    refresh_when(services, record, RefreshWhen::Refused(refused.version))
        .await
        .map(Some)
}

/// What makes an OAuth token due for a refresh.
#[derive(Clone, Copy)]
enum RefreshWhen {
    /// Its recorded expiry is near.
    NearExpiry,
    /// GitLab refused the token of this credentials version.
    Refused(u64),
}

impl RefreshWhen {
    fn due(self, record: &IntegrationRecord, now: i64) -> bool {
        match self {
            RefreshWhen::NearExpiry => needs_refresh(record.token_expires_at, now),
            RefreshWhen::Refused(version) => record.credentials_version <= version,
        }
    }
}

/// The OAuth token, refreshed under the lease when `when` says it is due; while another
/// function holds the lease, waits for its refresh.
async fn refresh_when(
    services: &Services,
    mut record: IntegrationRecord,
    when: RefreshWhen,
) -> Result<TokenInUse, CredentialsError> {
    let started = tokio::time::Instant::now();
    loop {
        match record.status {
            IntegrationStatus::Error => return Err(CredentialsError::ReconnectRequired),
            IntegrationStatus::Inactive => return Err(CredentialsError::Inactive),
            IntegrationStatus::Active => {}
        }
        let now = services.clock.now();
        if !when.due(&record, now) {
            return stored_token(services, &record).await;
        }
        if crate::app::deadline::time_left().is_some_and(|left| left < REFRESH_NEEDS) {
            tracing::warn!(integration_id = %record.id, "too little time left to refresh the GitLab token safely");
            return Err(CredentialsError::RefreshPending);
        }
        let owner = uuid::Uuid::new_v4().to_string();
        if services
            .integrations
            .acquire_refresh_lease(&record.id, &owner, now, now + LEASE_SECS)
            .await?
        {
            return refresh_holding_lease(services, &record.id, &owner, when).await;
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

/// The stored token the record says is current: the cached copy if it is that version, else a
/// read past the cache (another function replaced or refreshed it).
async fn stored_token(services: &Services, record: &IntegrationRecord) -> Result<TokenInUse, CredentialsError> {
    let cached = read_credentials(services, &record.id, false).await?;
    let current = cached.version >= record.credentials_version
        && (record.auth_mode != AuthMode::OauthApp || cached.expires_at == record.token_expires_at);
    let credentials = if current {
        cached
    } else {
        read_credentials(services, &record.id, true).await?
    };
    Ok(TokenInUse {
        token: credentials.access_token.ok_or(CredentialsError::Missing)?,
        version: credentials.version,
    })
}

async fn refresh_holding_lease(
    services: &Services,
    integration_id: &IntegrationId,
    owner: &str,
    when: RefreshWhen,
) -> Result<TokenInUse, CredentialsError> {
    // Re-read under the lease: another function may have finished a refresh just before we took it.
    let record = services
        .integrations
        .get_integration(integration_id)
        .await?
        .ok_or(CredentialsError::IntegrationGone)?;
    let now = services.clock.now();
    if !when.due(&record, now) {
        release(services, integration_id, owner, None).await;
        return stored_token(services, &record).await;
    }
    let credentials = match read_credentials(services, integration_id, true).await {
        Ok(c) => c,
        Err(err) => {
            release(services, integration_id, owner, None).await;
            return Err(err);
        }
    };
    let (client, refresh_token) = match (oauth_client(&record, &credentials), credentials.refresh_token.as_ref()) {
        (Ok(client), Some(token)) => (client, token),
        _ => return Err(mark_reconnect_required(services, &record, owner, "no refresh token is stored").await),
    };
    let answer = tokio::time::timeout(
        REFRESH_CALL_LIMIT,
        services.gitlab.refresh_tokens(&record.host_url, &client, refresh_token),
    )
    .await
    .unwrap_or_else(|_| Err(GitLabError::Unreachable("timed out".into())));
    match answer {
        Ok(tokens) => {
            let expires_at = tokens.expires_at(now);
            let version = record.credentials_version + 1;
            let renewed = Credentials {
                access_token: Some(copy_secret(&tokens.access_token)),
                // GitLab always rotates it; keep the old one if an odd version did not.
                refresh_token: Some(copy_secret(tokens.refresh_token.as_ref().unwrap_or(refresh_token))),
                client_secret: Some(client.secret),
                expires_at,
                version,
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
                let outcome = RefreshOutcome {
                    status: IntegrationStatus::Error,
                    token_expires_at: record.token_expires_at,
                    credentials_version: record.credentials_version,
                    updated_at: now,
                };
                release(services, integration_id, owner, Some(&outcome)).await;
                return Err(err);
            }
            let outcome = RefreshOutcome {
                status: record.status,
                token_expires_at: expires_at,
                credentials_version: version,
                updated_at: now,
            };
            match services
                .integrations
                .complete_refresh(integration_id, owner, Some(&outcome))
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict) => {
                    tracing::warn!(%integration_id, "the refresh lease ran out before the refresh was recorded")
                }
                Err(err) => return Err(err.into()),
            }
            tracing::info!(%integration_id, "GitLab OAuth token refreshed");
            crate::telemetry::count_refresh("refreshed");
            Ok(TokenInUse {
                token: tokens.access_token,
                version,
            })
        }
        Err(GitLabError::OAuthRefused { error }) => {
            Err(mark_reconnect_required(services, &record, owner, &error).await)
        }
        Err(err) => {
            crate::telemetry::count_refresh("unavailable");
            release(services, integration_id, owner, None).await;
            Err(CredentialsError::RefreshUnavailable(err))
        }
    }
}

async fn mark_reconnect_required(
    services: &Services,
    record: &IntegrationRecord,
    owner: &str,
    why: &str,
) -> CredentialsError {
    tracing::warn!(integration_id = %record.id, reason = why, "GitLab refused the token refresh; the integration needs a new authorization");
    crate::telemetry::count_refresh("refused");
    let outcome = RefreshOutcome {
        status: IntegrationStatus::Error,
        token_expires_at: record.token_expires_at,
        credentials_version: record.credentials_version,
        updated_at: services.clock.now(),
    };
    release(services, &record.id, owner, Some(&outcome)).await;
    CredentialsError::ReconnectRequired
}

/// Gives the lease back, recording `outcome`; a lost lease only means someone else moved on.
async fn release(services: &Services, id: &IntegrationId, owner: &str, outcome: Option<&RefreshOutcome>) {
    if let Err(err) = services.integrations.complete_refresh(id, owner, outcome).await {
        tracing::warn!(integration_id = %id, error = %err, "could not release the refresh lease; it expires on its own");
    }
}
