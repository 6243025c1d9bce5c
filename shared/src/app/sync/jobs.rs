//! Syncs as background jobs: a request starts a pass (or joins the running one) and waits a
//! moment for it; the pass runs in a worker (an SQS-fed function on AWS, a task locally), writes
//! repositories page by page, hands what is left to the next job when its time runs short, and
//! removes vanished repositories only after a complete pass.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::Services;
use crate::app::sync::pass::{HANDOVER_MARGIN, LEASE_SECS, Pass};
use crate::app::sync::pass_error::PassError;
use crate::domain::ids::IntegrationId;
use crate::domain::sync::{SyncRecord, SyncRunState};
use crate::ports::{QueueError, StoreError, SyncJob, SyncQueue, VaultError};

/// How long connect waits for its first sync before answering.
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// How long the OAuth completions and `POST …/installations` wait.
pub const SYNC_WAIT: Duration = Duration::from_secs(5);
/// A running pass no job has taken this long after it was started is taken as lost.
const UNCLAIMED_PASS_SECS: i64 = 300;

/// Why a sync could not be started or run.
///
/// # Errors
/// - `Store`: the sync record or the repositories could not be read or written.
/// - `Queue`: the job could not be queued.
/// - `Vault`: a deleted integration's secret could not be removed (its purge is tried again).
#[derive(Debug, thiserror::Error)]
pub enum SyncJobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Starts a pass of the integration's sync, or joins the one running. Returns that pass.
pub async fn start_sync(services: &Services, integration_id: &IntegrationId) -> Result<SyncRecord, SyncJobError> {
    for _ in 0..5 {
        let now = services.clock.now();
        let current = services.syncs.get_sync(integration_id).await?;
        if let Some(running) = current.as_ref().filter(|c| c.state == SyncRunState::Running)
            && (running.leased(now) || now - running.started_at < UNCLAIMED_PASS_SECS)
        {
            return Ok(running.clone());
        }
        let next = SyncRecord::next_pass(integration_id, current.as_ref(), now);
        match services.syncs.put_sync(&next).await {
            Ok(()) => {
                let job = SyncJob {
                    integration_id: integration_id.clone(),
                    generation: next.generation,
                    purge: false,
                };
                services.sync_queue.enqueue(&job).await?;
                tracing::info!(%integration_id, generation = next.generation, "repository sync started");
                return Ok(next);
            }
            // Another request started one first: join it.
            Err(StoreError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// The pass `generation` once it ended, or `None` if it is still running after `wait`.
pub async fn wait_for_pass(
    services: &Services,
    integration_id: &IntegrationId,
    generation: u64,
    wait: Duration,
) -> Result<Option<SyncRecord>, StoreError> {
    let deadline = Instant::now() + wait;
    loop {
        let record = services.syncs.get_sync(integration_id).await?;
        match record {
            Some(r) if r.generation == generation && r.state == SyncRunState::Running => {}
            Some(r) => return Ok(Some(r)),
            None => return Ok(None),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20).min(deadline - now)).await;
    }
}

/// Starts (or joins) a pass and waits up to `wait` for it: the ended pass, or `None` when it
/// goes on in the background.
pub async fn sync_and_wait(
    services: &Services,
    integration_id: &IntegrationId,
    wait: Duration,
) -> Result<Option<SyncRecord>, SyncJobError> {
    let pass = start_sync(services, integration_id).await?;
    Ok(wait_for_pass(services, integration_id, pass.generation, wait).await?)
}

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The pass ended (succeeded or failed).
    Finished,
    /// Time ran short: the rest of the pass was queued as a new job.
    HandedOver,
    /// Nothing to do: the pass is over, another job holds it, or the integration is gone.
    Skipped,
}

/// Runs a job from the queue: a sync pass, or the removal of a deleted integration's items.
pub async fn run_job(
    services: &Services,
    job: &SyncJob,
    deadline: Option<Instant>,
) -> Result<JobOutcome, SyncJobError> {
    if !job.purge {
        return run_sync_job(services, job, deadline).await;
    }
    // Only a deleted integration is purged, whatever a stray message says.
    match services.integrations.get_integration(&job.integration_id).await? {
        Some(record) if record.deleted_at.is_some() => purge(services, job, deadline).await,
        _ => Ok(JobOutcome::Skipped),
    }
}

/// Items a purge removes per store call: its memory holds one page of keys, whatever the size
/// of the account.
const PURGE_PAGE: usize = 1_000;

/// Removes a deleted integration's items page by page; near the deadline the rest is queued as
/// a new job, as sync passes hand over.
async fn purge(services: &Services, job: &SyncJob, deadline: Option<Instant>) -> Result<JobOutcome, SyncJobError> {
    loop {
        if services
            .integrations
            .delete_integration_page(&job.integration_id, PURGE_PAGE)
            .await?
        {
            // The delete removes the secret last; one it could not remove goes here.
            let secret = services.config.credentials_secret_name(&job.integration_id);
            if let Err(err) = services.vault.delete_secret(&secret).await {
                tracing::warn!(integration_id = %job.integration_id, error = %err, "a deleted integration's secret could not be removed; the purge is tried again");
                return Err(SyncJobError::Vault(err));
            }
            tracing::info!(integration_id = %job.integration_id, "deleted integration's items removed");
            return Ok(JobOutcome::Finished);
        }
        if deadline.is_some_and(|d| Instant::now() + HANDOVER_MARGIN >= d) {
            services.sync_queue.enqueue(job).await?;
            tracing::info!(integration_id = %job.integration_id, "a purge near its deadline handed the rest over");
            return Ok(JobOutcome::HandedOver);
        }
    }
}

/// Runs (part of) a pass. `deadline` is when the job must have stopped (a Lambda's), if any.
pub async fn run_sync_job(
    services: &Services,
    job: &SyncJob,
    deadline: Option<Instant>,
) -> Result<JobOutcome, SyncJobError> {
    let now = services.clock.now();
    let Some(record) = services.syncs.get_sync(&job.integration_id).await? else {
        return Ok(JobOutcome::Skipped);
    };
    if record.generation != job.generation || record.state != SyncRunState::Running || record.leased(now) {
        return Ok(JobOutcome::Skipped);
    }
    let owner = uuid::Uuid::new_v4().to_string();
    let leased = SyncRecord {
        lease_owner: Some(owner),
        lease_until: Some(now + LEASE_SECS),
        ..record.bumped()
    };
    match services.syncs.put_sync(&leased).await {
        Err(StoreError::Conflict) => return Ok(JobOutcome::Skipped),
        other => other?,
    }
    let Some(integration) = services
        .integrations
        .get_integration(&job.integration_id)
        .await?
        .filter(|i| i.deleted_at.is_none())
    else {
        return Ok(JobOutcome::Skipped);
    };
    let installation_id = services.installation_id(&integration.id).await?;
    let pass = Pass::new(services, integration, installation_id, leased);
    let settled = async {
        match pass.run(deadline).await {
            Ok(Some(remaining)) => {
                pass.checkpoint(Some(remaining), true).await?;
                services.sync_queue.enqueue(job).await.map_err(PassError::Queue)?;
                tracing::info!(integration_id = %job.integration_id, "repository sync handed to the next job");
                Ok(JobOutcome::HandedOver)
            }
            Ok(None) => {
                pass.complete().await?;
                Ok(JobOutcome::Finished)
            }
            Err(PassError::Failed(failure)) => {
                pass.fail(failure).await?;
                Ok(JobOutcome::Finished)
            }
            Err(other) => Err(other),
        }
    }
    .await;
    match settled {
        Ok(outcome) => Ok(outcome),
        // Another job took the pass over (this one's lease ran out): leave it be.
        Err(PassError::LeaseLost) => Ok(JobOutcome::Skipped),
        Err(PassError::Store(err)) => Err(err.into()),
        Err(PassError::Queue(err)) => Err(err.into()),
        Err(PassError::Failed(failure)) => {
            tracing::warn!(integration_id = %job.integration_id, error = %failure.message, "a failed sync could not be recorded");
            Ok(JobOutcome::Finished)
        }
    }
}

/// Locally, sync jobs run as tasks of this process.
pub struct BackgroundSyncQueue {
    sender: mpsc::UnboundedSender<SyncJob>,
}

impl BackgroundSyncQueue {
    /// The queue and the receiving end its worker reads ([`run_sync_worker`]).
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<SyncJob>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Arc::new(BackgroundSyncQueue { sender }), receiver)
    }
}

#[async_trait::async_trait]
impl SyncQueue for BackgroundSyncQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        self.sender
            .send(job.clone())
            .map_err(|_| QueueError("the sync worker has stopped".into()))
    }
}

/// Runs every job the channel brings, each in a task of its own (passes of different
/// integrations go side by side; the lease keeps one integration's to one at a time).
pub async fn run_sync_worker(services: Services, mut receiver: mpsc::UnboundedReceiver<SyncJob>) {
    while let Some(job) = receiver.recv().await {
        let services = services.clone();
        tokio::spawn(async move {
            if let Err(err) = run_job(&services, &job, None).await {
                tracing::warn!(integration_id = %job.integration_id, error = %err, "sync job failed");
            }
        });
    }
}
