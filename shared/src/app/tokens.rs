//! `check-gitlab-token` and `replace-gitlab-token`: a personal token's health, and swapping it
//! for a new one; and the check GitLab must pass for any personal token we keep.

use secrecy::SecretString;

use crate::app::credentials::{CredentialsError, with_token};
use crate::app::{LookupError, Services};
use crate::domain::credential::{CredentialStatus, expiry_from_date, status_from_expiry};
use crate::domain::gitlab::{GitLabUser, TokenInfo, missing_scopes};
use crate::domain::host::HostUrl;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::secrets::Credentials;
use crate::ports::{GitLabError, StoreError, VaultError};

/// Why GitLab's check of a personal token failed.
///
/// # Errors
/// - `Refused`: GitLab rejected the token (wrong, expired, revoked or inactive).
/// - `NotInspectable`: GitLab would not describe the token (before 15.5, or not a personal token).
/// - `ScopeMissing`: the token lacks a scope we need (the text says which).
/// - `Unavailable`: GitLab could not be reached or answered oddly; retry later.
#[derive(Debug, thiserror::Error)]
pub enum TokenVerificationError {
    #[error("GitLab rejected the access token: {0}")]
    Refused(GitLabError),
    #[error("GitLab would not describe the token: {0}")]
    NotInspectable(GitLabError),
    #[error("{0}")]
    ScopeMissing(&'static str),
    #[error("GitLab could not be reached: {0}")]
    Unavailable(GitLabError),
}

/// Checks a personal token at GitLab: who it acts as, that it is live and has the scopes we need.
/// Used by connect and by token replacement.
pub async fn verify_personal_token(
    services: &Services,
    host: &HostUrl,
    token: &SecretString,
) -> Result<(GitLabUser, TokenInfo), TokenVerificationError> {
    let user = match services.gitlab.current_user(host, token).await {
        Ok(user) => user,
        Err(err @ (GitLabError::Unauthorized(_) | GitLabError::Forbidden)) => {
            return Err(TokenVerificationError::Refused(err));
        }
        Err(err) => return Err(TokenVerificationError::Unavailable(err)),
    };
    let info = match services.gitlab.token_self(host, token).await {
        Ok(info) => info,
        Err(err @ GitLabError::Unauthorized(_)) => return Err(TokenVerificationError::Refused(err)),
        // GitLab before 15.5 has no self-inspection, and newer versions answer 400 for tokens
        // that are not personal access tokens: either way its scopes cannot be checked.
        Err(err @ (GitLabError::NotFound | GitLabError::Status(400))) => {
            return Err(TokenVerificationError::NotInspectable(err));
        }
        Err(err) => return Err(TokenVerificationError::Unavailable(err)),
    };
    if info.revoked || !info.active {
        return Err(TokenVerificationError::Refused(GitLabError::Unauthorized(Some(
            "the token is revoked or inactive".into(),
        ))));
    }
    if let Some(missing) = missing_scopes(&info.scopes) {
        return Err(TokenVerificationError::ScopeMissing(missing));
    }
    Ok((user, info))
}

/// A personal token's state as GitLab reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHealth {
    pub status: CredentialStatus,
    pub expires_at: Option<i64>,
    pub checked_at: i64,
}

/// Why a token check or replacement failed.
///
/// # Errors
/// - `Lookup`: the integration does not exist, or storage failed.
/// - `NotPersonalToken`: the integration does not use a personal access token.
/// - `Credentials`: the stored token cannot be read.
/// - `Verification`: GitLab refused the new token (replacement only).
/// - `AccountMismatch`: the new token acts as another GitLab user than the integration.
/// - `Store`, `Vault`: a backend failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the integration does not use a personal access token")]
    NotPersonalToken,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Verification(#[from] TokenVerificationError),
    #[error("the new token belongs to another GitLab user")]
    AccountMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

async fn personal_token_integration(services: &Services, id: &IntegrationId) -> Result<IntegrationRecord, TokenError> {
    let record = services.integration(id).await?;
    if record.auth_mode != AuthMode::PersonalToken {
        return Err(TokenError::NotPersonalToken);
    }
    Ok(record)
}

/// Asks GitLab about the stored token and records what it says on the integration: a refused
/// or expired token marks it `error`, a valid one `active`; an unreachable GitLab changes nothing.
pub async fn check_gitlab_token(services: &Services, id: &IntegrationId) -> Result<TokenHealth, TokenError> {
    let record = personal_token_integration(services, id).await?;
    let now = services.clock.now();
    let (host, gitlab) = (&record.host_url, services.gitlab.as_ref());
    let answer = with_token(services, &record, |token| async move {
        gitlab.token_self(host, &token).await
    })
    .await?;
    let (status, expires_at) = match answer {
        Ok(info) if info.revoked || !info.active => (CredentialStatus::Rejected, record.token_expires_at),
        Ok(info) => {
            let expires_at = expiry_from_date(info.expires_at.as_deref());
            (status_from_expiry(expires_at, now), expires_at)
        }
        Err(GitLabError::Unauthorized(_)) => (CredentialStatus::Rejected, record.token_expires_at),
        Err(err) => {
            tracing::warn!(integration_id = %record.id, error = %err, "token check could not reach GitLab");
            (CredentialStatus::Unknown, record.token_expires_at)
        }
    };
    let new_status = match status {
        CredentialStatus::Rejected | CredentialStatus::Expired => IntegrationStatus::Error,
        CredentialStatus::Unknown => record.status,
        CredentialStatus::Valid | CredentialStatus::Expiring => IntegrationStatus::Active,
    };
    if new_status != record.status || expires_at != record.token_expires_at {
        services
            .modify_integration(&record.id, |stored| {
                // A token replaced meanwhile is not the one this check judged.
                if stored.credentials_version == record.credentials_version {
                    stored.status = new_status;
                    stored.token_expires_at = expires_at;
                    stored.updated_at = now;
                }
            })
            .await?;
    }
    Ok(TokenHealth {
        status,
        expires_at,
        checked_at: now,
    })
}

/// Replaces the personal token with `token`, which GitLab must accept for the same user.
pub async fn replace_gitlab_token(
    services: &Services,
    id: &IntegrationId,
    token: SecretString,
) -> Result<TokenHealth, TokenError> {
    let record = personal_token_integration(services, id).await?;
    let (user, info) = verify_personal_token(services, &record.host_url, &token).await?;
    if record.gitlab_user_id.is_some_and(|known| known != user.id) {
        return Err(TokenError::AccountMismatch);
    }
    let name = services.config.credentials_secret_name(&record.id);
    // A new version: warm functions holding the old token in their cache read this one instead.
    let version = record.credentials_version + 1;
    let secret = Credentials::personal(token, version).to_secret_json();
    match services.vault.put_secret(&name, &secret).await {
        // Only a delete removes it, and a delete running now would not purge a secret made
        // again here: the token would live on where nothing removes it.
        Err(VaultError::NotFound) => return Err(LookupError::Missing(crate::app::Missing::Integration).into()),
        other => other?,
    }
    let now = services.clock.now();
    let expires_at = expiry_from_date(info.expires_at.as_deref());
    services
        .modify_integration(&record.id, |record| {
            record.status = IntegrationStatus::Active;
            record.gitlab_user_id = Some(user.id);
            record.token_expires_at = expires_at;
            record.gitlab_scopes = Some(info.scopes.clone());
            record.gitlab_token_id = info.id;
            record.credentials_version = record.credentials_version.max(version);
            record.updated_at = now;
        })
        .await?
        .ok_or(LookupError::Missing(crate::app::Missing::Integration))?;
    Ok(TokenHealth {
        status: status_from_expiry(expires_at, now),
        expires_at,
        checked_at: now,
    })
}
