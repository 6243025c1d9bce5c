//! A hook's `last_delivery_at`: noted at most once an hour (the hook listing shows it to the
//! hour), apart from the delivery's own write, so a delivery costs one write.

use crate::app::Services;
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::StoreError;

/// How often a hook record's `last_delivery_at` is written at most.
const NOTE_INTERVAL_SECS: i64 = 3600;

fn due(last: Option<i64>, now: i64) -> bool {
    last.is_none_or(|at| at <= now - NOTE_INTERVAL_SECS)
}

/// Notes a delivery at `now` on the hook that sent it, if we registered it and its note is an
/// hour old: the group's hook when `key` is a group's secret, else the project's. A failure
/// costs only freshness, so it is logged, not answered.
pub async fn note_delivery(services: &Services, key: &WebhookKey, project: Option<ProjectId>, now: i64) {
    let integration_id = &key.integration_id;
    let noted = match (&key.group, project) {
        (Some(group), _) => note_on_group(services, integration_id, group.id, now).await,
        (None, Some(project)) => note_on_project(services, integration_id, project, now).await,
        (None, None) => return,
    };
    if let Err(err) = noted {
        tracing::warn!(%integration_id, error = %err, "could not note a delivery on its hook record");
    }
}

async fn note_on_project(
    services: &Services,
    integration_id: &IntegrationId,
    project: ProjectId,
    now: i64,
) -> Result<(), StoreError> {
    let hook = services.hooks.hook_for_delivery(integration_id, project).await?;
    if hook.is_some_and(|hook| due(hook.last_delivery_at, now)) {
        services.hooks.note_delivery(integration_id, project, now).await?;
    }
    Ok(())
}

async fn note_on_group(
    services: &Services,
    integration_id: &IntegrationId,
    group_id: u64,
    now: i64,
) -> Result<(), StoreError> {
    let hook = services.hooks.group_hook(integration_id, group_id).await?;
    if hook.is_some_and(|hook| due(hook.last_delivery_at, now)) {
        services
            .hooks
            .note_group_delivery(integration_id, group_id, now)
            .await?;
    }
    Ok(())
}
