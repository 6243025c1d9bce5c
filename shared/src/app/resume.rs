//! After a restart of the local runner: work the previous process had queued in memory (sync
//! passes, purges of deleted integrations, hand-offs of new triggers) is queued again from what
//! the store says. On AWS the queue and the table's stream keep that work; locally only the
//! store outlives the process.

use crate::app::Services;
use crate::domain::sync::{SyncRecord, SyncRunState};
use crate::domain::trigger::TriggerStatus;
use crate::ports::{StoreError, SyncJob, TriggerFilter};

/// What was queued again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumed {
    pub sync_passes: usize,
    pub purges: usize,
    pub handoffs: usize,
}

/// How many queued triggers are read at a time.
const TRIGGER_PAGE: usize = 200;

/// Queues again every pass left running, every purge of a deleted integration, and the hand-off
/// of every trigger still queued (a second `pending` status for the same commit changes nothing
/// at GitLab). Only for a store this process holds alone (the local runner's data folder): the
/// leases of passes found running are released as those of a process that ended.
///
/// # Errors
/// `StoreError` when the integrations, syncs or triggers cannot be read.
pub async fn resume_unfinished_work(services: &Services) -> Result<Resumed, StoreError> {
    let mut resumed = Resumed::default();
    for integration in services.integrations.list_integrations().await? {
        if integration.deleted_at.is_some() {
            enqueue(
                services,
                SyncJob {
                    integration_id: integration.id.clone(),
                    generation: 0,
                    purge: true,
                },
            );
            resumed.purges += 1;
            continue;
        }
        let Some(sync) = services.syncs.get_sync(&integration.id).await? else {
            continue;
        };
        if sync.state == SyncRunState::Running {
            // The data folder is this process's alone, so a lease found in it was held by the
            // process that ended: the pass is taken over now rather than a minute later.
            if sync.lease_owner.is_some() {
                let released = SyncRecord {
                    lease_owner: None,
                    lease_until: None,
                    ..sync.bumped()
                };
                match services.syncs.put_sync(&released).await {
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(other) => return Err(other),
                }
            }
            enqueue(
                services,
                SyncJob {
                    integration_id: integration.id.clone(),
                    generation: sync.generation,
                    purge: false,
                },
            );
            resumed.sync_passes += 1;
        }
    }
    let queued = TriggerFilter {
        status: Some(TriggerStatus::Queued),
        integration_id: None,
    };
    let mut after = None;
    loop {
        let page = services
            .triggers
            .list_triggers(&queued, after.as_deref(), TRIGGER_PAGE)
            .await?;
        for trigger in &page {
            services.handoff.enqueue(trigger);
        }
        resumed.handoffs += page.len();
        match page.last() {
            Some(last) if page.len() == TRIGGER_PAGE => after = Some(last.queue_position()),
            _ => break,
        }
    }
    Ok(resumed)
}

/// Queues `job`, logging what cannot be queued.
fn enqueue(services: &Services, job: SyncJob) {
    let queue = services.sync_queue.clone();
    tokio::spawn(async move {
        if let Err(err) = queue.enqueue(&job).await {
            tracing::warn!(integration_id = %job.integration_id, error = %err, "resumed work could not be queued");
        }
    });
}
