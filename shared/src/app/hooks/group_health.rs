//! The health of the group hooks we registered, as for project hooks: what GitLab says is kept
//! on each record, refreshed by every complete sync and by a registration, which re-enables a
//! disabled hook through GitLab's test delivery.

use crate::app::Services;
use crate::app::credentials::{CredentialsError, with_token};
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::integration::IntegrationRecord;
use crate::ports::{GitLabError, HookOwner};

/// The test event that re-enables a hook (every hook we make takes push events).
const TEST_TRIGGER: &str = "push_events";

/// Why a group hook's health could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GroupHealthError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    GitLab(#[from] GitLabError),
}

/// Reads the hook at GitLab and records its health; a hook GitLab no longer has is forgotten
/// (`Ok(None)`).
///
/// # Errors
/// No usable token, or GitLab could not answer; nothing is recorded then.
pub async fn refresh_group_hook(
    services: &Services,
    integration: &IntegrationRecord,
    record: GroupHookRecord,
) -> Result<Option<GroupHookRecord>, GroupHealthError> {
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let (group_id, hook_id) = (record.group_id, record.hook_id);
    let answer = with_token(services, integration, |token| async move {
        gitlab.hook(host, &token, HookOwner::Group(group_id), hook_id).await
    })
    .await?;
    match answer {
        Ok(hook) => {
            // The delivery note may have moved on meanwhile: the record is read again.
            let noted = services.hooks.group_hook(&integration.id, group_id).await;
            let last_delivery_at = noted
                .ok()
                .flatten()
                .and_then(|r| r.last_delivery_at)
                .or(record.last_delivery_at);
            let updated = GroupHookRecord {
                alert_status: hook.alert_status,
                disabled_until: hook.disabled_until,
                checked_at: Some(services.clock.now()),
                last_delivery_at,
                ..record
            };
            if let Err(err) = services.hooks.put_group_hook(&integration.id, &updated).await {
                tracing::warn!(integration_id = %integration.id, group_id, error = %err, "group hook health not recorded");
            }
            Ok(Some(updated))
        }
        Err(GitLabError::NotFound) => {
            tracing::info!(integration_id = %integration.id, group_id, hook_id, "the group hook we registered is gone at GitLab");
            if let Err(err) = services.hooks.remove_group_hook(&integration.id, group_id).await {
                tracing::warn!(integration_id = %integration.id, group_id, error = %err, "group hook record not removed");
            }
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Refreshes every group hook we registered on the integration. Best effort: a hook GitLab
/// cannot tell about keeps what was known.
pub async fn refresh_all_group_hooks(services: &Services, integration: &IntegrationRecord) {
    let hooks = match services.hooks.group_hooks(&integration.id).await {
        Ok(hooks) => hooks,
        Err(err) => {
            tracing::warn!(integration_id = %integration.id, error = %err, "group hooks not read; their health is not refreshed");
            return;
        }
    };
    for hook in hooks {
        let group_id = hook.group_id;
        if let Err(err) = refresh_group_hook(services, integration, hook).await {
            tracing::warn!(integration_id = %integration.id, group_id, error = %err, "group hook health not read");
        }
    }
}

/// Re-enables the hook when GitLab reports it disabled (GitLab's test delivery re-enables a
/// hook that answers it with a 2xx); answers the record after the attempt.
///
/// # Errors
/// No usable token, or GitLab could not answer.
pub async fn reenable_group_hook_if_disabled(
    services: &Services,
    integration: &IntegrationRecord,
    record: GroupHookRecord,
) -> Result<Option<GroupHookRecord>, GroupHealthError> {
    if !record.disabled() {
        return Ok(Some(record));
    }
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let (group_id, hook_id) = (record.group_id, record.hook_id);
    let tested = with_token(services, integration, |token| async move {
        gitlab
            .test_hook(host, &token, HookOwner::Group(group_id), hook_id, TEST_TRIGGER)
            .await
    })
    .await?;
    if let Err(err) = tested {
        // GitLab answers 422 when the hook's answer to the test was not a 2xx: it stays disabled.
        tracing::info!(integration_id = %integration.id, group_id, hook_id, error = %err, "the test delivery did not re-enable the group hook");
    }
    refresh_group_hook(services, integration, record).await
}
