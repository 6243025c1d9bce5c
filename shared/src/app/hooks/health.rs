//! The health of the project hooks we registered: GitLab disables a hook for a while after 4
//! failed deliveries in a row, and for good after many. What GitLab says is kept on each hook's
//! record, refreshed by every sync job and by a registration, which also re-enables a disabled
//! hook through GitLab's test delivery.

use futures::stream::{self, StreamExt};

use crate::app::Services;
use crate::app::credentials::{CredentialsError, with_token};
use crate::domain::gitlab::ProjectHook;
use crate::domain::hooks::{EXECUTABLE, HookHealth};
use crate::domain::ids::ProjectId;
use crate::domain::integration::IntegrationRecord;
use crate::ports::{GitLabError, HookOwner};

/// The test event that re-enables a hook (we subscribe every hook to push events).
const TEST_TRIGGER: &str = "push_events";

fn health_of(hook: &ProjectHook, now: i64) -> HookHealth {
    HookHealth {
        alert_status: hook.alert_status.clone(),
        disabled_until: hook.disabled_until.clone(),
        checked_at: now,
    }
}

/// Reads one registered hook at GitLab and records its health. A hook GitLab no longer has is
/// forgotten (`Ok(None)`).
///
/// # Errors
/// No usable token (outer), or GitLab could not answer (inner); nothing is recorded then.
pub async fn refresh_hook(
    services: &Services,
    integration: &IntegrationRecord,
    project_id: ProjectId,
    hook_id: u64,
) -> Result<Result<Option<HookHealth>, GitLabError>, CredentialsError> {
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let answer = with_token(services, integration, |token| async move {
        gitlab.hook(host, &token, HookOwner::Project(project_id), hook_id).await
    })
    .await?;
    let stores = &services.hooks;
    Ok(match answer {
        Ok(hook) => {
            let health = health_of(&hook, services.clock.now());
            if let Err(err) = stores.set_hook_health(&integration.id, project_id, &health).await {
                tracing::warn!(integration_id = %integration.id, %project_id, error = %err, "hook health not recorded");
            }
            Ok(Some(health))
        }
        Err(GitLabError::NotFound) => {
            tracing::info!(integration_id = %integration.id, %project_id, hook_id, "the hook we registered is gone at GitLab");
            if let Err(err) = stores.remove_hook(&integration.id, project_id).await {
                tracing::warn!(integration_id = %integration.id, %project_id, error = %err, "hook record not removed");
            }
            Ok(None)
        }
        Err(err) => Err(err),
    })
}

/// Refreshes the health of every hook we registered on the integration's projects, a few at a
/// time. Best effort: a hook GitLab cannot tell about keeps what was known.
pub async fn refresh_all(services: &Services, integration: &IntegrationRecord) {
    let hooks = match services.hooks.list_hooks(&integration.id).await {
        Ok(hooks) => hooks,
        Err(err) => {
            tracing::warn!(integration_id = %integration.id, error = %err, "registered hooks not read; their health is not refreshed");
            return;
        }
    };
    // Futures made up front by a plain function: the sync job that runs this is spawned, and a
    // closure returning an async block here would not be `Send` for every lifetime.
    let checks: Vec<_> = hooks
        .iter()
        .filter_map(|h| h.hook_id.map(|id| check(services, integration, h.project_id, id)))
        .collect();
    let outcomes: Vec<_> = stream::iter(checks)
        .buffer_unordered(services.config.sync_concurrency.max(1))
        .collect()
        .await;
    for (project_id, outcome) in outcomes {
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(integration_id = %integration.id, %project_id, error = %err, "hook health not read")
            }
            Err(err) => {
                tracing::warn!(integration_id = %integration.id, error = %err, "no usable token to read hook health")
            }
        }
    }
}

type Checked = Result<Result<Option<HookHealth>, GitLabError>, CredentialsError>;

async fn check(
    services: &Services,
    integration: &IntegrationRecord,
    project_id: ProjectId,
    hook_id: u64,
) -> (ProjectId, Checked) {
    (
        project_id,
        refresh_hook(services, integration, project_id, hook_id).await,
    )
}

/// Re-enables the registered hook when GitLab reports it disabled: GitLab's test delivery
/// re-enables a hook that answers it with a 2xx. Answers the health after the attempt.
///
/// # Errors
/// No usable token (outer), or GitLab could not answer (inner).
pub async fn reenable_if_disabled(
    services: &Services,
    integration: &IntegrationRecord,
    project_id: ProjectId,
    hook_id: u64,
) -> Result<Result<Option<HookHealth>, GitLabError>, CredentialsError> {
    let health = match refresh_hook(services, integration, project_id, hook_id).await? {
        Ok(Some(health)) => health,
        other => return Ok(other),
    };
    if health.alert_status.as_deref().is_none_or(|s| s == EXECUTABLE) {
        return Ok(Ok(Some(health)));
    }
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let tested = with_token(services, integration, |token| async move {
        gitlab
            .test_hook(host, &token, HookOwner::Project(project_id), hook_id, TEST_TRIGGER)
            .await
    })
    .await?;
    if let Err(err) = tested {
        // GitLab answers 422 when the hook's answer to the test was not a 2xx: it stays disabled.
        tracing::info!(integration_id = %integration.id, %project_id, hook_id, error = %err, "the test delivery did not re-enable the hook");
    }
    refresh_hook(services, integration, project_id, hook_id).await
}
