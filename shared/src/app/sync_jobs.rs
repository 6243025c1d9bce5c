//! Syncs as background jobs: a request starts a pass (or joins the running one) and waits a
//! moment for it; the pass runs in a worker (an SQS-fed function on AWS, a task locally), writes
//! repositories page by page, hands what is left to the next job when its time runs short, and
//! removes vanished repositories only after a complete pass.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use secrecy::SecretString;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::Services;
use super::credentials::{CredentialsError, access_token};
use super::project_walk::{RateGate, fetch_by_offset, plan_slices, slice_page};
use crate::domain::gitlab::GitLabProject;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{IntegrationRecord, IntegrationStatus, Repository};
use crate::domain::name_index::{IndexEntry, merge};
use crate::domain::sync::{IdSlice, SyncFailure, SyncFailureKind, SyncRecord, SyncRunState};
use crate::ports::{GitLabError, QueueError, StoreError, SyncJob, SyncQueue};

/// How long connect waits for its first sync before answering.
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// How long the OAuth completions and `POST …/installations` wait.
pub const SYNC_WAIT: Duration = Duration::from_secs(5);
/// A job's hold on its pass, renewed at every checkpoint.
const LEASE_SECS: i64 = 60;
/// A running pass no job has taken this long after it was started is taken as lost.
const UNCLAIMED_PASS_SECS: i64 = 300;
/// How often a job records its progress.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
/// Time left under which a job stops and hands the rest of its pass to the next job.
const HANDOVER_MARGIN: Duration = Duration::from_secs(20);

/// Why a sync could not be started or run.
///
/// # Errors
/// - `Store`: the sync record or the repositories could not be read or written.
/// - `Queue`: the job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum SyncJobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
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
        Some(record) if record.deleted_at.is_some() => {
            services.integrations.delete_integration(&job.integration_id).await?;
            tracing::info!(integration_id = %job.integration_id, "deleted integration's items removed");
            Ok(JobOutcome::Finished)
        }
        _ => Ok(JobOutcome::Skipped),
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
    let pass = Pass {
        services,
        integration,
        record: Mutex::new(leased),
        last_checkpoint: Mutex::new(Instant::now()),
        unindexed: Mutex::default(),
        index_writer: Mutex::default(),
    };
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

enum PassError {
    Failed(SyncFailure),
    LeaseLost,
    Store(StoreError),
    Queue(QueueError),
}

impl From<StoreError> for PassError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => PassError::LeaseLost,
            other => PassError::Store(other),
        }
    }
}

impl From<GitLabError> for PassError {
    fn from(err: GitLabError) -> Self {
        let kind = match err {
            GitLabError::Unauthorized(_) => SyncFailureKind::ReconnectRequired,
            _ => SyncFailureKind::GitLabUnavailable,
        };
        PassError::Failed(SyncFailure {
            kind,
            message: err.to_string(),
        })
    }
}

impl From<CredentialsError> for PassError {
    fn from(err: CredentialsError) -> Self {
        let kind = match err {
            CredentialsError::ReconnectRequired => SyncFailureKind::ReconnectRequired,
            CredentialsError::RefreshUnavailable(_) => SyncFailureKind::GitLabUnavailable,
            _ => SyncFailureKind::Internal,
        };
        PassError::Failed(SyncFailure {
            kind,
            message: err.to_string(),
        })
    }
}

/// One job's share of a pass.
struct Pass<'a> {
    services: &'a Services,
    integration: IntegrationRecord,
    /// The record as this job last wrote it.
    record: Mutex<SyncRecord>,
    last_checkpoint: Mutex<Instant>,
    /// Index entries of the pages written since the last checkpoint.
    unindexed: Mutex<Vec<IndexEntry>>,
    /// Held while the name index is read, merged and written: walkers checkpointing at once
    /// would otherwise each write the index they read, and the last one would drop the other's
    /// pages.
    index_writer: Mutex<()>,
}

impl Pass<'_> {
    /// Reads and stores pages until the pass is done (`None`) or time runs short (what is left).
    async fn run(&self, deadline: Option<Instant>) -> Result<Option<Vec<IdSlice>>, PassError> {
        let token = access_token(self.services, &self.integration).await?;
        let gitlab = self.services.gitlab.as_ref();
        let host = &self.integration.host_url;
        let concurrency = self.services.config.sync_concurrency;
        let gate = RateGate::default();
        let planned = self.record.lock().await.remaining.clone();
        let slices = match planned {
            Some(slices) => slices,
            None => match plan_slices(gitlab, host, &token, &gate, concurrency).await? {
                Some(slices) => slices,
                None => {
                    // No keyset pagination here: offset pages, read whole.
                    let projects = fetch_by_offset(gitlab, host, &token, concurrency, &gate).await?;
                    let mut seen = std::collections::HashSet::new();
                    let unique: Vec<GitLabProject> = projects.into_iter().filter(|p| seen.insert(p.id)).collect();
                    for page in unique.chunks(100) {
                        self.store_page(page).await?;
                    }
                    return Ok(None);
                }
            },
        };
        let remaining = Arc::new(std::sync::Mutex::new(slices.clone()));
        let stop = || deadline.is_some_and(|d| Instant::now() + HANDOVER_MARGIN >= d);
        stream::iter(slices)
            .map(|slice| self.walk(slice, &token, &gate, &remaining, &stop))
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        let left = remaining.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(if left.is_empty() { None } else { Some(left) })
    }

    /// Reads one slice page by page, storing each and noting how far it got.
    async fn walk(
        &self,
        mut slice: IdSlice,
        token: &SecretString,
        gate: &RateGate,
        remaining: &std::sync::Mutex<Vec<IdSlice>>,
        stop: &impl Fn() -> bool,
    ) -> Result<(), PassError> {
        let original = slice;
        loop {
            if stop() {
                return Ok(());
            }
            let (page, more) = slice_page(
                self.services.gitlab.as_ref(),
                &self.integration.host_url,
                token,
                gate,
                slice,
            )
            .await?;
            let newest = page.last().map(|p| p.id.get());
            self.store_page(&page).await?;
            let done = !more || newest.is_none_or(|n| n <= slice.after);
            {
                let mut left = remaining.lock().unwrap_or_else(|e| e.into_inner());
                let position = left.iter().position(|s| s.last == original.last);
                match (position, done) {
                    (Some(i), true) => {
                        left.remove(i);
                    }
                    (Some(i), false) => left[i].after = newest.unwrap_or(slice.after),
                    (None, _) => {}
                }
            }
            if done {
                return Ok(());
            }
            slice.after = newest.unwrap_or(slice.after);
            self.maybe_checkpoint(remaining).await?;
        }
    }

    /// Writes one page's repositories with this pass's generation, keeping what did not change.
    async fn store_page(&self, page: &[GitLabProject]) -> Result<(), PassError> {
        if page.is_empty() {
            return Ok(());
        }
        let services = self.services;
        let id = &self.integration.id;
        let generation = self.record.lock().await.generation;
        let now = services.clock.now();
        let installation_id = services.installation_id(id).await?;
        let ids: Vec<_> = page.iter().map(|p| p.id).collect();
        let existing = services.repositories.get_repositories(id, &ids).await?;
        let upserts: Vec<Repository> = page
            .iter()
            .map(|project| {
                let mut fresh = project.to_repository(id, &installation_id, now);
                fresh.sync_generation = generation;
                if let Some(old) = existing.iter().find(|r| r.external_id == fresh.external_id) {
                    // Only what GitLab says counts as a change: not the timestamps or the pass.
                    let same = Repository {
                        sync_generation: generation,
                        created_at: old.created_at,
                        updated_at: old.updated_at,
                        ..fresh.clone()
                    };
                    fresh.created_at = old.created_at;
                    if same
                        == (Repository {
                            sync_generation: generation,
                            ..old.clone()
                        })
                    {
                        fresh.updated_at = old.updated_at;
                    }
                }
                fresh
            })
            .collect();
        services.repositories.write_repositories(id, &upserts, &[]).await?;
        self.unindexed.lock().await.extend(upserts.iter().map(IndexEntry::of));
        self.record.lock().await.repositories_seen += upserts.len() as u64;
        Ok(())
    }

    async fn maybe_checkpoint(&self, remaining: &std::sync::Mutex<Vec<IdSlice>>) -> Result<(), PassError> {
        {
            let mut last = self.last_checkpoint.lock().await;
            if last.elapsed() < CHECKPOINT_EVERY {
                return Ok(());
            }
            *last = Instant::now();
        }
        let left = remaining.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.checkpoint(Some(left), false).await
    }

    /// Records progress and renews the lease, or with `release`, gives the pass back. The pages
    /// written since the last checkpoint join the name index first, so listings show them.
    async fn checkpoint(&self, remaining: Option<Vec<IdSlice>>, release: bool) -> Result<(), PassError> {
        let _writer = self.index_writer.lock().await;
        let added = std::mem::take(&mut *self.unindexed.lock().await);
        if !added.is_empty() {
            let id = &self.integration.id;
            let index = self
                .services
                .repositories
                .read_name_index(id, 0, None)
                .await?
                .map(|i| i.entries);
            let index = merge(id, index.unwrap_or_default(), &added);
            self.services.repositories.write_name_index(id, &index).await?;
        }
        let now = self.services.clock.now();
        let mut record = self.record.lock().await;
        let next = SyncRecord {
            remaining,
            lease_owner: if release { None } else { record.lease_owner.clone() },
            lease_until: if release { None } else { Some(now + LEASE_SECS) },
            ..record.bumped()
        };
        self.services.syncs.put_sync(&next).await?;
        *record = next;
        Ok(())
    }

    /// A complete pass: what it did not see is removed, and the pass is recorded as done.
    async fn complete(&self) -> Result<(), PassError> {
        let services = self.services;
        let id = &self.integration.id;
        let _writer = self.index_writer.lock().await;
        let mut record = self.record.lock().await;
        let stale = services.repositories.stale_repositories(id, record.generation).await?;
        services.repositories.write_repositories(id, &[], &stale).await?;
        // The index holds every page written so far (checkpoints merged them): add the last
        // pages, drop what the pass removed. No repository is read whole.
        let gone: std::collections::HashSet<_> = stale.iter().map(|r| r.external_id).collect();
        let added = std::mem::take(&mut *self.unindexed.lock().await);
        let index = services
            .repositories
            .read_name_index(id, 0, None)
            .await?
            .map(|i| i.entries);
        let mut index = merge(id, index.unwrap_or_default(), &added);
        index.retain(|entry| !gone.contains(&entry.project()));
        services.repositories.write_name_index(id, &index).await?;
        let done = SyncRecord {
            state: SyncRunState::Succeeded,
            finished_at: Some(services.clock.now()),
            repository_count: index.len() as u64,
            remaining: None,
            lease_owner: None,
            lease_until: None,
            error: None,
            ..record.bumped()
        };
        services.syncs.put_sync(&done).await?;
        tracing::info!(integration_id = %id, seen = done.repositories_seen, removed = stale.len(), "repository sync done");
        *record = done;
        Ok(())
    }

    /// A failed pass removes nothing; a refused token marks the integration `error`.
    async fn fail(&self, failure: SyncFailure) -> Result<(), PassError> {
        let services = self.services;
        let id = &self.integration.id;
        tracing::warn!(integration_id = %id, error = %failure.message, "repository sync failed");
        if failure.kind == SyncFailureKind::ReconnectRequired {
            // Read again: fetching the token may have refreshed and rewritten the record.
            if let Some(mut integration) = services.integrations.get_integration(id).await? {
                integration.status = IntegrationStatus::Error;
                integration.updated_at = services.clock.now();
                services.integrations.update_integration(&integration).await?;
            }
        }
        let mut record = self.record.lock().await;
        let failed = SyncRecord {
            state: SyncRunState::Failed,
            finished_at: Some(services.clock.now()),
            remaining: None,
            lease_owner: None,
            lease_until: None,
            error: Some(failure),
            ..record.bumped()
        };
        services.syncs.put_sync(&failed).await?;
        *record = failed;
        Ok(())
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
