//! Claims that run out: a claim past `CLAIM_TIMEOUT_SECONDS` without a report is queued again
//! and its clone credential revoked, by the claim expiry on its schedule (every minute on AWS,
//! every 30 seconds in the local runner) whether or not anyone reads the queue.

use crate::app::Services;
use crate::app::credentials::access_token;
use crate::domain::ids::IntegrationId;
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::ports::{StoreError, TriggerFilter};

/// Queues a trigger whose claim ran out again and revokes its clone credential.
pub(crate) async fn requeue(services: &Services, trigger: &Trigger, now: i64) -> Result<Trigger, StoreError> {
    let again = trigger.requeued(now);
    match services.triggers.update_trigger(&again).await {
        Ok(()) => {
            tracing::info!(trigger_id = %trigger.id, "a claim ran out without a report; the trigger is queued again");
            revoke_clone_credential(services, trigger).await;
            Ok(again)
        }
        // Someone else moved it first: read what they left.
        Err(StoreError::Conflict) => Ok(services.triggers.get_trigger(&trigger.id).await?.unwrap_or(again)),
        Err(err) => Err(err),
    }
}

/// Queues again every trigger whose claim ran out and revokes its clone credential: what the
/// claim expiry runs on its schedule (every minute on AWS, every 30 seconds locally).
///
/// # Errors
/// A storage failure; what was requeued before it stays requeued.
pub async fn requeue_expired_claims(services: &Services) -> Result<usize, StoreError> {
    let now = services.clock.now();
    let mut requeued = 0;
    for status in [TriggerStatus::Claimed, TriggerStatus::Running] {
        let filter = TriggerFilter {
            status: Some(status),
            integration_id: None,
        };
        let mut after: Option<String> = None;
        loop {
            let page = services.triggers.list_triggers(&filter, after.as_deref(), 200).await?;
            for trigger in page.iter().filter(|t| t.claim_expired(now)) {
                requeue(services, trigger, now).await?;
                requeued += 1;
            }
            match page.last() {
                Some(last) if page.len() == 200 => after = Some(last.queue_position()),
                _ => break,
            }
        }
    }
    Ok(requeued)
}

/// Whether builds of the integration are claimed or running (its delete must wait for them).
/// A claim past its timeout holds nothing: one the schedule has not reached yet is queued again
/// here, so its clone credential is revoked before the integration goes.
pub async fn has_active_builds(services: &Services, integration_id: &IntegrationId) -> Result<bool, StoreError> {
    let now = services.clock.now();
    let active = active_triggers(services, integration_id).await?;
    if active.iter().any(|t| !t.claim_expired(now)) {
        return Ok(true);
    }
    for run_out in &active {
        requeue(services, run_out, now).await?;
    }
    Ok(false)
}

/// Revokes the clone credential of each of the integration's claimed and running triggers: a
/// claim that slipped in beside its delete leaves no deploy token behind.
pub(crate) async fn revoke_active_credentials(
    services: &Services,
    integration_id: &IntegrationId,
) -> Result<(), StoreError> {
    for trigger in active_triggers(services, integration_id).await? {
        revoke_clone_credential(services, &trigger).await;
    }
    Ok(())
}

/// The integration's claimed and running triggers (a handful: one a build in progress).
async fn active_triggers(services: &Services, integration_id: &IntegrationId) -> Result<Vec<Trigger>, StoreError> {
    let mut active = Vec::new();
    for status in [TriggerStatus::Claimed, TriggerStatus::Running] {
        let filter = TriggerFilter {
            status: Some(status),
            integration_id: Some(integration_id.clone()),
        };
        let mut after: Option<String> = None;
        loop {
            let page = services.triggers.list_triggers(&filter, after.as_deref(), 200).await?;
            let next = match page.last() {
                Some(last) if page.len() == 200 => Some(last.queue_position()),
                _ => None,
            };
            active.extend(page);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(active)
}

/// Revokes the trigger's deploy token at GitLab; one that cannot be revoked still expires.
pub(crate) async fn revoke_clone_credential(services: &Services, trigger: &Trigger) {
    let Some(token_id) = trigger.deploy_token_id else {
        return;
    };
    let revoked = async {
        let integration = services
            .integrations
            .get_integration(&trigger.integration_id)
            .await
            .ok()??;
        let token = access_token(services, &integration).await.ok()?;
        services
            .gitlab
            .revoke_deploy_token(&integration.host_url, &token, trigger.project_id, token_id)
            .await
            .ok()
    }
    .await;
    match revoked {
        Some(()) => tracing::info!(trigger_id = %trigger.id, "clone credential revoked"),
        None => {
            tracing::warn!(trigger_id = %trigger.id, "the clone credential could not be revoked; it expires on its own")
        }
    }
}
