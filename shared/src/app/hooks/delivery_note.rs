//! A hook's `last_delivery_at`: noted at most once an hour (the hook listing shows it to the
//! hour), apart from the delivery's own write, so a delivery costs one write.

use crate::app::Services;
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::ports::StoreError;

/// How often a hook record's `last_delivery_at` is written at most.
const NOTE_INTERVAL_SECS: i64 = 3600;

/// Notes a delivery at `now` on the hook record of its project, if we registered a hook there
/// and its note is an hour old. A failure costs only freshness, so it is logged, not answered.
pub async fn note_delivery(services: &Services, integration_id: &IntegrationId, project: Option<ProjectId>, now: i64) {
    let Some(project) = project else {
        return;
    };
    let noted = async {
        let hook = services.hooks.hook_for_delivery(integration_id, project).await?;
        let due = hook.is_some_and(|hook| hook.last_delivery_at.is_none_or(|at| at <= now - NOTE_INTERVAL_SECS));
        if due {
            services.hooks.note_delivery(integration_id, project, now).await?;
        }
        Ok::<(), StoreError>(())
    };
    if let Err(err) = noted.await {
        tracing::warn!(%integration_id, error = %err, "could not note a delivery on its hook record");
    }
}
