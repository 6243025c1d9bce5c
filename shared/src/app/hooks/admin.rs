//! `rotate-webhook-secret`, `rotate-integration-webhook-secret` and `register-webhook`: a
//! repository's own webhook secret, the integration-wide one, and the project hook at GitLab that
//! sends a repository's.

use secrecy::SecretString;

use crate::app::credentials::{CredentialsError, with_token};
use crate::app::hooks::health::reenable_if_disabled;
use crate::app::master_key::{MasterKeyError, master_key};
use crate::app::{LookupError, Services};
use crate::domain::ids::{IntegrationId, RepositoryId};
use crate::domain::integration::IntegrationRecord;
use crate::domain::webhook_keys::{IssuedKey, WebhookKey};
use crate::ports::{GitLabError, HookOwner, HookSettings, StoreError};

/// The longest grace window a caller may ask for: a week, as for the configured one.
pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;

/// Rotations racing on one scope retry this often before giving up.
const ROTATION_ATTEMPTS: usize = 3;

/// Why a webhook secret could not be rotated.
///
/// # Errors
/// - `Lookup`: the repository or its integration does not exist, or storage failed.
/// - `MasterKey`: the signing key cannot be derived; retry later.
/// - `RotationConflict`: other rotations of the same secret kept winning; retry.
/// - `Store`: storage failed.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("another rotation of this secret is in progress")]
    RotationConflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh secret, current from now on, shown once.
pub struct RotatedSecret {
    pub secret: SecretString,
    pub rotated_at: i64,
    /// When the secret it replaced stops working.
    pub previous_valid_until: i64,
}

/// Makes `issued` (a new secret for the integration, one of its projects, or a group) current
/// in its scope; the previous one stays valid for `grace_secs` (0: it stops at once).
pub(crate) async fn rotate(
    services: &Services,
    integration: &IntegrationRecord,
    mut issued: IssuedKey,
    grace_secs: i64,
) -> Result<(WebhookKey, RotatedSecret), RotateError> {
    let integration_id = &integration.id;
    let now = issued.key.created_at;
    let grace_until = now + grace_secs;
    issued.key.require_signature = integration.require_webhook_signature;
    for attempt in 1..=ROTATION_ATTEMPTS {
        match services
            .webhooks
            .rotate_webhook_key(&issued.key, grace_until, now)
            .await
        {
            Ok(()) => break,
            Err(StoreError::Conflict) if attempt < ROTATION_ATTEMPTS => continue,
            Err(StoreError::Conflict) => return Err(RotateError::RotationConflict),
            Err(err) => return Err(err.into()),
        }
    }
    // The signature setting may have changed while the key was issued: the setting is written
    // before the keys, so reading it after ours was written catches that.
    let setting = services.integration(integration_id).await?.require_webhook_signature;
    if setting != issued.key.require_signature {
        services
            .webhooks
            .set_signature_requirement(integration_id, setting)
            .await?;
    }
    let rotated = RotatedSecret {
        secret: issued.secret,
        rotated_at: issued.key.created_at,
        previous_valid_until: grace_until,
    };
    Ok((issued.key, rotated))
}

/// A repository's new webhook secret with its signing key.
pub struct RepositorySecret {
    pub repository_id: RepositoryId,
    pub rotated: RotatedSecret,
    pub signing_key: [u8; 32],
}

/// A new secret for one repository (good for its project only), shown once with its signing key.
pub async fn rotate_webhook_secret(services: &Services, id: &RepositoryId) -> Result<RepositorySecret, RotateError> {
    let (repository, integration) = services.repository(id).await?;
    // Read first: a rotation whose signing key could not be shown would lose it.
    let master = master_key(services).await?;
    let grace = services.config.webhook_grace_secs;
    let issued = WebhookKey::issue(&integration.id, Some(repository.external_id), services.clock.now());
    let (key, rotated) = rotate(services, &integration, issued, grace).await?;
    tracing::info!(integration_id = %integration.id, repository_id = %repository.id, "repository webhook secret rotated");
    Ok(RepositorySecret {
        repository_id: repository.id,
        rotated,
        signing_key: key.signing_key(&master),
    })
}

/// The integration-wide secret, new, with its signing key.
pub struct IntegrationSecret {
    pub rotated: RotatedSecret,
    pub signing_key: [u8; 32],
}

/// A new integration-wide secret (the one connect showed), shown once with its signing key. The
/// old one keeps working for `grace_secs` (default: the configured grace window; 0 revokes it at
/// once), so a secret that leaked, or whose connect answer was lost, can be replaced.
pub async fn rotate_integration_webhook_secret(
    services: &Services,
    id: &IntegrationId,
    grace_secs: Option<i64>,
) -> Result<IntegrationSecret, RotateError> {
    let integration = services.integration(id).await?;
    let master = master_key(services).await?;
    let grace = grace_secs.unwrap_or(services.config.webhook_grace_secs);
    let issued = WebhookKey::issue(&integration.id, None, services.clock.now());
    let (key, rotated) = rotate(services, &integration, issued, grace).await?;
    tracing::info!(integration_id = %integration.id, grace_secs = grace, "integration webhook secret rotated");
    Ok(IntegrationSecret {
        rotated,
        signing_key: key.signing_key(&master),
    })
}

/// What our project and group hooks ask GitLab to send: pushes, tag pushes, merge requests,
/// comments (`/oore build`) and token expiry warnings, to `url` with `token`.
pub(crate) fn hook_settings(url: &str, token: SecretString) -> HookSettings {
    HookSettings {
        url: url.to_string(),
        token,
        push_events: true,
        tag_push_events: true,
        merge_requests_events: true,
        note_events: true,
        enable_ssl_verification: true,
        resource_access_token_events: true,
    }
}

/// Why a project hook could not be registered.
///
/// # Errors
/// - `Lookup`: the repository or its integration does not exist, or storage failed.
/// - `Credentials`: the integration's token cannot be used.
/// - `TokenRefused`: GitLab rejected the integration's token; replace it or reconnect.
/// - `HooksForbidden`: the token lacks the api scope or the Maintainer role on the project.
/// - `GitLabUnavailable`: GitLab could not be reached; retry (the new secret and the old one
///   both work meanwhile).
/// - `Rotate`: the repository's secret could not be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RegisterHookError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("GitLab rejected the integration's token")]
    TokenRefused,
    #[error("GitLab refused to manage this project's hooks")]
    HooksForbidden,
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    Rotate(#[from] RotateError),
}

impl From<GitLabError> for RegisterHookError {
    fn from(err: GitLabError) -> Self {
        match err {
            GitLabError::Unauthorized(_) => RegisterHookError::TokenRefused,
            GitLabError::Forbidden | GitLabError::NotFound => RegisterHookError::HooksForbidden,
            other => RegisterHookError::GitLabUnavailable(other),
        }
    }
}

/// What registering a project's hook did.
pub enum Registration {
    Registered(RegisteredHook),
    /// A group hook of ours already sends the project's deliveries: nothing was registered.
    Covered {
        repository_id: RepositoryId,
        group_hook_id: u64,
    },
}

/// A project hook as registered.
pub struct RegisteredHook {
    pub repository_id: RepositoryId,
    pub hook_id: u64,
    /// Whether the hook was made now (else ours was updated).
    pub created: bool,
    pub rotated_at: i64,
    /// GitLab's `alert_status` after the registration (and, for a disabled hook, the test
    /// delivery that re-enables it); `None` where GitLab does not report it.
    pub alert_status: Option<String>,
}

/// Creates the project hook at GitLab posting to `webhook_url`, or updates ours if it is there
/// already (matched on its URL), with a fresh secret. A hook GitLab disabled is re-enabled with a
/// test delivery, and its health recorded. Where a group hook of ours covers the project,
/// nothing is registered: GitLab would deliver every event twice.
pub async fn register_webhook(
    services: &Services,
    id: &RepositoryId,
    webhook_url: &str,
) -> Result<Registration, RegisterHookError> {
    let (repository, integration) = services.repository(id).await?;
    let group_hooks = services
        .hooks
        .group_hooks(&integration.id)
        .await
        .map_err(RotateError::Store)?;
    if let Some(group_hook) = group_hooks.iter().find(|h| h.covers(&repository.full_name)) {
        return Ok(Registration::Covered {
            repository_id: repository.id,
            group_hook_id: group_hook.hook_id,
        });
    }
    let project_id = repository.external_id;
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let hooks = with_token(services, &integration, |token| async move {
        gitlab.hooks(host, &token, HookOwner::Project(project_id)).await
    })
    .await??;
    let existing = hooks.iter().find(|h| h.url == webhook_url).map(|h| h.id);

    // The secret is stored before GitLab hears of it: if GitLab then fails, the secret GitLab
    // still holds keeps working through the grace window and the call can simply be repeated.
    let grace = services.config.webhook_grace_secs;
    let issued = WebhookKey::issue(&integration.id, Some(project_id), services.clock.now());
    let (_, rotated) = rotate(services, &integration, issued, grace).await?;
    let settings = &hook_settings(webhook_url, rotated.secret);
    let hook = with_token(services, &integration, |token| async move {
        gitlab
            .save_hook(host, &token, HookOwner::Project(project_id), existing, settings)
            .await
    })
    .await??;
    // Kept so a delete of the integration removes the hooks we made, and only those.
    services
        .hooks
        .put_hook(&integration.id, project_id, hook.id)
        .await
        .map_err(RotateError::Store)?;
    tracing::info!(integration_id = %integration.id, repository_id = %repository.id, hook_id = hook.id, created = existing.is_none(), "project hook registered");
    let alert_status = match reenable_if_disabled(services, &integration, project_id, hook.id).await? {
        Ok(health) => health.and_then(|h| h.alert_status),
        // The hook is registered; its health is read again by the next sync.
        Err(err) => {
            tracing::warn!(integration_id = %integration.id, %project_id, error = %err, "hook health not read after registering");
            hook.alert_status.clone()
        }
    };
    Ok(Registration::Registered(RegisteredHook {
        repository_id: repository.id,
        hook_id: hook.id,
        created: existing.is_none(),
        rotated_at: rotated.rotated_at,
        alert_status,
    }))
}
