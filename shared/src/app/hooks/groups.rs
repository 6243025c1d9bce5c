//! `register-group-webhook`, `list-group-webhooks` and `delete-group-webhook`: one hook on a
//! GitLab group for every project under it, with a secret of its own that verifies deliveries
//! only for projects under the group's path.

use crate::app::credentials::{CredentialsError, with_token};
use crate::app::hooks::admin::{RotateError, hook_settings, rotate};
use crate::app::hooks::group_health::reenable_group_hook_if_disabled;
use crate::app::{LookupError, Services};
use crate::domain::gitlab::GitLabGroup;
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::IntegrationRecord;
use crate::domain::webhook_keys::{KeyGroup, WebhookKey};
use crate::ports::{GitLabError, HookOwner, StoreError};

/// Why a group hook could not be registered, read or removed.
///
/// # Errors
/// - `Lookup`: the integration does not exist, or storage failed.
/// - `Credentials`: the integration's token cannot be used.
/// - `TokenRefused`: GitLab rejected the integration's token.
/// - `Unavailable`: GitLab refused group hooks (403: a Free tier group or no Owner on it; 404:
///   no such group for this token); the reason says which. Project hooks still work.
/// - `NotFound`: no group hook of ours has that id.
/// - `GitLabUnavailable`: GitLab could not be reached; retry.
/// - `Rotate`: the group's secret could not be rotated.
/// - `Store`: storage failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupHookError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("GitLab rejected the integration's token")]
    TokenRefused,
    #[error("{0}")]
    Unavailable(String),
    #[error("no group hook of this integration has that id")]
    NotFound,
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    Rotate(#[from] RotateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// GitLab's answer about group `group_id` as our error: its refusals say why group hooks are
/// out of reach.
fn refused(group_id: u64, err: GitLabError) -> GroupHookError {
    match err {
        GitLabError::Unauthorized(_) => GroupHookError::TokenRefused,
        GitLabError::Forbidden => GroupHookError::Unavailable(format!(
            "GitLab refused group hooks on group {group_id} (403): group hooks need GitLab Premium or higher \
             and the Owner role on the group; project hooks still work"
        )),
        GitLabError::NotFound => GroupHookError::Unavailable(format!(
            "GitLab has no group {group_id} whose hooks this token may manage (404): the group does not \
             exist, or the token lacks Owner on it (or the tier has no group hooks); project hooks still work"
        )),
        other => GroupHookError::GitLabUnavailable(other),
    }
}

/// Registers our hook on group `group_id` (push, tag push, merge request, comment and token
/// events) with a fresh secret scoped to the group, or updates ours if GitLab already has a
/// hook with our URL. A hook GitLab disabled is re-enabled with a test delivery.
pub async fn register_group_hook(
    services: &Services,
    integration_id: &IntegrationId,
    group_id: u64,
    webhook_url: &str,
) -> Result<GroupHookRecord, GroupHookError> {
    let integration = services.integration(integration_id).await?;
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let group: GitLabGroup = with_token(services, &integration, |token| async move {
        gitlab.group(host, &token, group_id).await
    })
    .await?
    .map_err(|e| refused(group_id, e))?;
    let hooks = with_token(services, &integration, |token| async move {
        gitlab.hooks(host, &token, HookOwner::Group(group_id)).await
    })
    .await?
    .map_err(|e| refused(group_id, e))?;
    let existing = hooks.iter().find(|h| h.url == webhook_url).map(|h| h.id);

    // Stored before GitLab hears of it, as for project hooks: a failed save leaves the
    // secret GitLab holds working through the grace window, and the call can be repeated.
    let scope = KeyGroup {
        id: group_id,
        full_path: group.full_path.clone(),
    };
    let issued = WebhookKey::issue_for_group(&integration.id, scope, services.clock.now());
    let grace = services.config.webhook_grace_secs;
    let (_, rotated) = rotate(services, &integration, issued, grace).await?;
    let settings = &hook_settings(webhook_url, rotated.secret);
    let hook = with_token(services, &integration, |token| async move {
        gitlab
            .save_hook(host, &token, HookOwner::Group(group_id), existing, settings)
            .await
    })
    .await?
    .map_err(|e| refused(group_id, e))?;
    let kept = services.hooks.group_hook(&integration.id, group_id).await?;
    let record = GroupHookRecord {
        group_id,
        full_path: group.full_path,
        hook_id: hook.id,
        alert_status: hook.alert_status.clone(),
        disabled_until: hook.disabled_until.clone(),
        checked_at: Some(services.clock.now()),
        last_delivery_at: kept.and_then(|k| k.last_delivery_at),
    };
    services.hooks.put_group_hook(&integration.id, &record).await?;
    tracing::info!(integration_id = %integration.id, group_id, hook_id = hook.id, created = existing.is_none(), "group hook registered");
    match reenable_group_hook_if_disabled(services, &integration, record.clone()).await {
        // `None`: GitLab lost the hook meanwhile; what was saved is all there is to show.
        Ok(found) => Ok(found.unwrap_or(record)),
        // The hook is registered; its health is read again by the next sync.
        Err(err) => {
            tracing::warn!(integration_id = %integration.id, group_id, error = %err, "group hook health not read after registering");
            Ok(record)
        }
    }
}

/// The group hooks we registered, with their health as the last sync (or registration) read it.
pub async fn list_group_hooks(
    services: &Services,
    integration_id: &IntegrationId,
) -> Result<Vec<GroupHookRecord>, GroupHookError> {
    let integration = services.integration(integration_id).await?;
    let mut hooks = services.hooks.group_hooks(&integration.id).await?;
    hooks.sort_by_key(|h| h.group_id);
    Ok(hooks)
}

/// Removes our hook `hook_id` at GitLab (one GitLab no longer has counts as removed) and here,
/// and retires the group's secret at once.
pub async fn delete_group_hook(
    services: &Services,
    integration_id: &IntegrationId,
    hook_id: u64,
) -> Result<(), GroupHookError> {
    let integration = services.integration(integration_id).await?;
    let hooks = services.hooks.group_hooks(&integration.id).await?;
    let hook = hooks
        .into_iter()
        .find(|h| h.hook_id == hook_id)
        .ok_or(GroupHookError::NotFound)?;
    let (gitlab, host, group_id) = (services.gitlab.as_ref(), &integration.host_url, hook.group_id);
    let deleted = with_token(services, &integration, |token| async move {
        gitlab
            .delete_hook(host, &token, HookOwner::Group(group_id), hook_id)
            .await
    })
    .await?;
    match deleted {
        Ok(()) | Err(GitLabError::NotFound) => {}
        Err(err) => return Err(refused(group_id, err)),
    }
    services.hooks.remove_group_hook(&integration.id, group_id).await?;
    retire_group_secret(services, &integration, &hook).await?;
    tracing::info!(integration_id = %integration.id, group_id, hook_id, "group hook removed");
    Ok(())
}

/// Ends every secret of the group's scope now: a rotation with no grace whose own new secret
/// is never shown, so nothing can present it.
async fn retire_group_secret(
    services: &Services,
    integration: &IntegrationRecord,
    hook: &GroupHookRecord,
) -> Result<(), GroupHookError> {
    let scope = KeyGroup {
        id: hook.group_id,
        full_path: hook.full_path.clone(),
    };
    let unshown = WebhookKey::issue_for_group(&integration.id, scope, services.clock.now());
    rotate(services, integration, unshown, 0).await?;
    Ok(())
}

/// One group hook and how many of the integration's stored projects it covers.
pub struct GroupHookCoverage {
    pub hook: GroupHookRecord,
    pub projects: usize,
}

/// How many stored projects each group hook we registered covers, from the name index (or the
/// repositories themselves before a pass wrote one). Nothing is read without group hooks.
///
/// # Errors
/// The store's.
pub async fn group_hook_coverage(
    services: &Services,
    integration_id: &IntegrationId,
) -> Result<Vec<GroupHookCoverage>, StoreError> {
    let mut hooks = services.hooks.group_hooks(integration_id).await?;
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    hooks.sort_by_key(|h| h.group_id);
    let names: Vec<String> = match services.repositories.read_name_index(integration_id, 0, None).await? {
        Some(index) => index.entries.into_iter().map(|entry| entry.0).collect(),
        None => services
            .repositories
            .list_repositories(integration_id)
            .await?
            .into_iter()
            .map(|repo| repo.full_name)
            .collect(),
    };
    Ok(hooks
        .into_iter()
        .map(|hook| GroupHookCoverage {
            projects: names.iter().filter(|name| hook.covers(name)).count(),
            hook,
        })
        .collect())
}

/// Deletes the group hooks we registered at GitLab (before an OAuth revoke), by their recorded
/// ids. A hook GitLab no longer has counts as deleted; a failure is logged and the rest go on.
pub async fn delete_registered_group_hooks(
    services: &Services,
    record: &IntegrationRecord,
    hooks: &[GroupHookRecord],
    token: &secrecy::SecretString,
) {
    for hook in hooks {
        match services
            .gitlab
            .delete_hook(&record.host_url, token, HookOwner::Group(hook.group_id), hook.hook_id)
            .await
        {
            Ok(()) | Err(GitLabError::NotFound) => {}
            Err(err) => {
                tracing::warn!(integration_id = %record.id, group_id = hook.group_id, hook_id = hook.hook_id, error = %err, "a registered group hook could not be deleted at GitLab");
            }
        }
    }
}
