//! One job's share of a sync pass: reading the id slices page by page (several walkers), writing
//! each page with the pass's generation, recording progress and the name index at checkpoints,
//! and ending the pass — complete (vanished repositories removed) or failed (nothing removed).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::app::Services;
use crate::app::credentials::{TokenInUse, current_token, renew_refused};
use crate::app::sync::pass_error::PassError;
use crate::app::sync::walk::{RateGate, fetch_by_offset, plan_slices, slice_page};
use crate::domain::gitlab::GitLabProject;
use crate::domain::integration::{IntegrationRecord, IntegrationStatus, Repository};
use crate::domain::name_index::{IndexChange, IndexEntry, WhenMissing};
use crate::domain::secrets::copy_secret;
use crate::domain::sync::{IdSlice, SyncFailure, SyncFailureKind, SyncRecord, SyncRunState};
use crate::ports::GitLabError;

/// A job's hold on its pass, renewed at every checkpoint.
pub(super) const LEASE_SECS: i64 = 60;
/// How often a job records its progress.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);
/// Time left under which a job stops and hands the rest of its pass to the next job.
pub(crate) const HANDOVER_MARGIN: Duration = Duration::from_secs(20);
/// The most projects one pass stores: ten times the largest account measured. A host listing
/// more (a loop, or not GitLab) fails the pass instead of filling the table.
pub(crate) const MOST_PROJECTS_PER_PASS: u64 = 1_000_000;

/// One job's share of a pass.
pub(super) struct Pass<'a> {
    services: &'a Services,
    integration: IntegrationRecord,
    /// The installation the pass's repositories belong to (read once, not per page).
    installation_id: String,
    /// The record as this job last wrote it.
    record: Mutex<SyncRecord>,
    last_checkpoint: Mutex<Instant>,
    /// Index entries of the pages written since the last checkpoint.
    unindexed: Mutex<Vec<IndexEntry>>,
    /// Held while the name index is changed: the store keeps changes made at once from losing
    /// each other, by applying one of them again; walkers of one pass wait instead.
    index_writer: Mutex<()>,
    /// The token the walkers call GitLab with; replaced (once per refusal) when GitLab refuses it.
    token: Mutex<Option<TokenInUse>>,
}

impl<'a> Pass<'a> {
    /// The share of a job that holds the pass (`record`, as it wrote it).
    pub(super) fn new(
        services: &'a Services,
        integration: IntegrationRecord,
        installation_id: String,
        record: SyncRecord,
    ) -> Self {
        Pass {
            services,
            integration,
            installation_id,
            record: Mutex::new(record),
            last_checkpoint: Mutex::new(Instant::now()),
            unindexed: Mutex::default(),
            index_writer: Mutex::default(),
            token: Mutex::default(),
        }
    }

    /// Calls GitLab with the pass's token. On a 401 the token is renewed once for all walkers
    /// (a newer stored token, or an OAuth refresh) and the call made again; a token that stays
    /// refused fails the pass.
    async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, PassError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, GitLabError>>,
    {
        let (token, version) = self.token_copy().await?;
        let used = TokenInUse {
            token: copy_secret(&token),
            version,
        };
        match call(token).await {
            Err(GitLabError::Unauthorized(description)) => {
                let mut held = self.token.lock().await;
                let newer = match held.as_ref() {
                    // Another walker renewed it meanwhile.
                    Some(current) if current.token.expose_secret() != used.token.expose_secret() => {
                        Some(copy_secret(&current.token))
                    }
                    _ => renew_refused(self.services, &self.integration.id, &used)
                        .await?
                        .map(|next| {
                            let token = copy_secret(&next.token);
                            *held = Some(next);
                            token
                        }),
                };
                drop(held);
                match newer {
                    Some(token) => Ok(call(token).await?),
                    None => Err(GitLabError::Unauthorized(description).into()),
                }
            }
            other => Ok(other?),
        }
    }

    /// A copy of the pass's token and its version, read first when the pass has none yet.
    async fn token_copy(&self) -> Result<(SecretString, u64), PassError> {
        let mut held = self.token.lock().await;
        let current = match held.take() {
            Some(current) => current,
            None => current_token(self.services, &self.integration).await?,
        };
        let copy = (copy_secret(&current.token), current.version);
        *held = Some(current);
        Ok(copy)
    }

    /// Reads and stores pages until the pass is done (`None`) or time runs short (what is left).
    pub(super) async fn run(&self, deadline: Option<Instant>) -> Result<Option<Vec<IdSlice>>, PassError> {
        let gitlab = self.services.gitlab.as_ref();
        let host = &self.integration.host_url;
        let concurrency = self.services.config.sync_concurrency;
        let gate = RateGate::default();
        let planned = self.record.lock().await.remaining.clone();
        let slices = match planned {
            Some(slices) => slices,
            None => match self
                .with_token(|token| {
                    let gate = &gate;
                    async move { plan_slices(gitlab, host, &token, gate, concurrency).await }
                })
                .await?
            {
                Some(slices) => slices,
                None => {
                    // No keyset pagination here: offset pages, read whole.
                    let projects = self
                        .with_token(|token| {
                            let gate = &gate;
                            async move { fetch_by_offset(gitlab, host, &token, concurrency, gate).await }
                        })
                        .await?;
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
            .map(|slice| self.walk(slice, &gate, &remaining, &stop))
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
        gate: &RateGate,
        remaining: &std::sync::Mutex<Vec<IdSlice>>,
        stop: &impl Fn() -> bool,
    ) -> Result<(), PassError> {
        let original = slice;
        loop {
            if stop() {
                return Ok(());
            }
            let (gitlab, host) = (self.services.gitlab.as_ref(), &self.integration.host_url);
            let (page, more) = self
                .with_token(|token| async move { slice_page(gitlab, host, &token, gate, slice).await })
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
        let (generation, seen) = {
            let record = self.record.lock().await;
            (record.generation, record.repositories_seen)
        };
        if seen.saturating_add(page.len() as u64) > MOST_PROJECTS_PER_PASS {
            return Err(PassError::Failed(SyncFailure {
                kind: SyncFailureKind::GitLabUnavailable,
                message: format!("GitLab listed more than {MOST_PROJECTS_PER_PASS} projects; the pass stopped there"),
            }));
        }
        let now = services.clock.now();
        let ids: Vec<_> = page.iter().map(|p| p.id).collect();
        let existing = services.repositories.get_repositories(id, &ids).await?;
        let upserts: Vec<Repository> = page
            .iter()
            .map(|project| {
                let mut fresh = project.to_repository(id, &self.installation_id, now);
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
    pub(super) async fn checkpoint(&self, remaining: Option<Vec<IdSlice>>, release: bool) -> Result<(), PassError> {
        let _writer = self.index_writer.lock().await;
        let added = std::mem::take(&mut *self.unindexed.lock().await);
        if !added.is_empty() {
            let change = IndexChange {
                added,
                gone: Vec::new(),
            };
            self.services
                .repositories
                .change_name_index(&self.integration.id, change, WhenMissing::Create)
                .await?;
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

    /// A complete pass: what it did not see is removed (with its hook record), the registered
    /// project and group hooks' health is read, and the pass is recorded as done.
    pub(super) async fn complete(&self) -> Result<(), PassError> {
        let services = self.services;
        let id = &self.integration.id;
        // Before the pass is marked done, so a sync call that waited for it shows fresh health.
        crate::app::hooks::health::refresh_all(services, &self.integration).await;
        crate::app::hooks::group_health::refresh_all_group_hooks(services, &self.integration).await;
        let _writer = self.index_writer.lock().await;
        let mut record = self.record.lock().await;
        let stale = services.repositories.stale_repositories(id, record.generation).await?;
        services.repositories.write_repositories(id, &[], &stale).await?;
        // The index holds every page written so far (checkpoints merged them): add the last
        // pages, drop what the pass removed. No repository is read whole.
        let change = IndexChange {
            added: std::mem::take(&mut *self.unindexed.lock().await),
            gone: stale.iter().map(|r| r.external_id).collect(),
        };
        let size = services
            .repositories
            .change_name_index(id, change, WhenMissing::Create)
            .await?
            .unwrap_or_default();
        let done = SyncRecord {
            state: SyncRunState::Succeeded,
            finished_at: Some(services.clock.now()),
            repository_count: size as u64,
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
    pub(super) async fn fail(&self, failure: SyncFailure) -> Result<(), PassError> {
        let services = self.services;
        let id = &self.integration.id;
        tracing::warn!(integration_id = %id, error = %failure.message, "repository sync failed");
        if failure.kind == SyncFailureKind::ReconnectRequired {
            let now = services.clock.now();
            let refused_version = self.token.lock().await.as_ref().map(|t| t.version);
            services
                .modify_integration(id, |integration| {
                    // Credentials replaced since the refusal are not the ones GitLab refused.
                    if refused_version.is_none_or(|v| integration.credentials_version <= v) {
                        integration.status = IntegrationStatus::Error;
                        integration.updated_at = now;
                    }
                })
                .await?;
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
