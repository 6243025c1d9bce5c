//! The small traits the use cases depend on; adapters implement them for AWS, GitLab and memory.
//! The stores, the vault and the clock are here; GitLab's API in `gitlab`, background work
//! (sync jobs, the trigger hand-off, build events) in `jobs`.
//!
//! Every store and vault adapter must pass the same contract tests (`tests/` runs them against
//! the in-memory adapters, the local runner's durable ones and DynamoDB on moto).

mod gitlab;
mod jobs;

pub use gitlab::*;
pub use jobs::*;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::delivery::DeliveryRecord;
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::hooks::{HookHealth, HookRecord};
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::{Installation, IntegrationRecord, IntegrationStatus, Repository};
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::name_index::{IndexBounds, IndexChange, IndexSlice, WhenMissing};
use crate::domain::oauth::PendingAuthorization;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::domain::webhook_keys::WebhookKey;

/// A storage failure. `Conflict` is a lost conditional write; anything else is the backend's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the record changed or already exists")]
    Conflict,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// What a token refresh (or a refused one) records on the integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub status: IntegrationStatus,
    pub token_expires_at: Option<i64>,
    pub credentials_version: u64,
    pub updated_at: i64,
}

impl RefreshOutcome {
    /// Writes the outcome's fields, and only those, onto `record` as a new version.
    pub fn apply_to(&self, record: &mut IntegrationRecord) {
        record.status = self.status;
        record.token_expires_at = self.token_expires_at;
        record.credentials_version = self.credentials_version;
        record.updated_at = self.updated_at;
        record.record_version += 1;
    }
}

/// Integrations and their installations.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration, its installation and its integration-wide webhook key together,
    /// or none of them. `Conflict` if the id exists.
    async fn create_integration(
        &self,
        record: &IntegrationRecord,
        installation: Option<&Installation>,
        webhook_key: Option<&WebhookKey>,
    ) -> Result<(), StoreError>;
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError>;
    /// All integrations (a key query, never a scan); callers filter, sort and page.
    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError>;
    /// Replaces the integration if its stored `record_version` is still the one `record` was
    /// read with, storing it one higher. `Conflict` if another write came first (read again and
    /// reapply) or it no longer exists.
    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError>;
    /// Adds or replaces an installation of an existing integration.
    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError>;
    async fn list_installations(&self, integration_id: &IntegrationId) -> Result<Vec<Installation>, StoreError>;
    /// Removes what must stop the moment a delete answers: the integration's webhook keys (its
    /// deliveries are refused) and its build triggers.
    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError>;
    /// Removes the integration and everything kept under it. Removing what is gone is not an error.
    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError>;
    /// Removes one page (about `page` items) of what is kept under the integration, and the
    /// integration itself once nothing else is left; answers whether all of it is gone. A purge
    /// calls it until it is, and may stop between calls. Stores that remove everything at once
    /// in little memory keep this default.
    async fn delete_integration_page(&self, id: &IntegrationId, page: usize) -> Result<bool, StoreError> {
        let _ = page;
        self.delete_integration(id).await.map(|()| true)
    }
    /// Takes the integration's token-refresh lease for `owner` until `until`, unless another
    /// owner holds an unexpired one. Only the holder may talk to GitLab's token endpoint, so one
    /// refresh reaches GitLab at a time across all Lambdas. `Ok(false)` if someone else holds it.
    /// Taking it bumps `record_version`, so a whole-record write read before cannot drop it.
    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// Releases the lease if `owner` still holds it, recording `outcome` (only its fields: a
    /// refresher must not rewrite what others changed meanwhile). `Conflict` if the lease was lost.
    async fn complete_refresh(
        &self,
        id: &IntegrationId,
        owner: &str,
        outcome: Option<&RefreshOutcome>,
    ) -> Result<(), StoreError>;
}

/// OAuth authorizations in progress, single use.
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;
    /// Removes and returns the pending authorization, atomically: of two callers presenting the
    /// same state, one gets it and the other `None`.
    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError>;
}

/// Repositories of integrations.
#[async_trait]
pub trait RepositoryStore: Send + Sync {
    async fn list_repositories(&self, integration_id: &IntegrationId) -> Result<Vec<Repository>, StoreError>;
    async fn get_repository(&self, repository_id: &RepositoryId) -> Result<Option<Repository>, StoreError>;
    /// The stored repositories of these GitLab projects (those that exist).
    async fn get_repositories(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<Repository>, StoreError>;
    /// The repositories no pass since `generation` has written (a complete pass's leftovers).
    async fn stale_repositories(
        &self,
        integration_id: &IntegrationId,
        generation: u64,
    ) -> Result<Vec<Repository>, StoreError>;
    /// Entries `offset..offset + limit` of the integration's name index (all from `offset` when
    /// `limit` is `None`) and the index's size; `None` when no index was written yet.
    async fn read_name_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError>;
    /// Where the chunks of the integration's name index begin; `None` when the store keeps no
    /// chunks (readers then read the index whole) or no index was written yet.
    async fn read_index_bounds(&self, integration_id: &IntegrationId) -> Result<Option<IndexBounds>, StoreError> {
        let _ = integration_id;
        Ok(None)
    }
    /// Applies `change` to the integration's name index, so that of two writers at once neither
    /// loses the other's entries; answers the index's new size, or `None` when it has none and
    /// `when_missing` leaves it so.
    async fn change_name_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError>;
    /// Records the project hook we registered for a project (one per project; replaces).
    /// Writes `upserts` and removes the repositories with ids in `removals`.
    /// Writes `upserts` and removes `removals` (with their hook records).
    async fn write_repositories(
        &self,
        integration_id: &IntegrationId,
        upserts: &[Repository],
        removals: &[Repository],
    ) -> Result<(), StoreError>;
}

/// The records of the project and group hooks we registered.
#[async_trait]
pub trait HookStore: Send + Sync {
    /// Records that we registered `hook_id` on the project (keeping what else is known of it).
    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError>;
    /// Records GitLab's word on a registered hook's health; nothing if the record is gone.
    async fn set_hook_health(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        health: &HookHealth,
    ) -> Result<(), StoreError>;
    /// Records when a delivery for the project last arrived, on its hook record if there is
    /// one. Callers write it at most once an hour per hook, apart from the delivery itself.
    async fn note_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        at: i64,
    ) -> Result<(), StoreError>;
    /// Forgets the hook we registered on the project (GitLab no longer has it).
    async fn remove_hook(&self, integration_id: &IntegrationId, project_id: ProjectId) -> Result<(), StoreError>;
    /// The hooks we registered on the integration's projects.
    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<HookRecord>, StoreError>;
    /// The hook record of one project (registered hooks only), for noting a delivery: a store
    /// may answer from a read that lags writes by a moment.
    async fn hook_for_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
    ) -> Result<Option<HookRecord>, StoreError> {
        Ok(self.get_hooks(integration_id, &[project_id]).await?.into_iter().next())
    }
    /// The hook records of these projects (registered hooks only).
    async fn get_hooks(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<HookRecord>, StoreError>;
    /// Keeps the record of a group hook we registered (`GROUPHOOK#{group}` items), replacing the
    /// group's earlier one.
    async fn put_group_hook(&self, integration_id: &IntegrationId, hook: &GroupHookRecord) -> Result<(), StoreError>;
    /// The group hooks we registered.
    async fn group_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<GroupHookRecord>, StoreError>;
    /// The group hook we registered on one group, for noting a delivery: a store may answer
    /// from a read that lags writes by a moment.
    async fn group_hook(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
    ) -> Result<Option<GroupHookRecord>, StoreError>;
    /// Records when a delivery through the group's hook last arrived, if the record exists.
    async fn note_group_delivery(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
        at: i64,
    ) -> Result<(), StoreError>;
    /// Forgets the group's hook (removed, or gone at GitLab).
    async fn remove_group_hook(&self, integration_id: &IntegrationId, group_id: u64) -> Result<(), StoreError>;
}

/// What became of an attempt to record a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The delivery (with its trigger, if it builds) was written.
    New,
    /// The same delivery, or a delivery of the same build, was recorded before; nothing was
    /// written.
    Duplicate,
}

/// Webhook keys, the delivery log and build triggers.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// The key whose digest is `digest`, valid or not (callers check validity).
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError>;
    /// Every key of one scope: the integration-wide keys (`project_id` None) or one project's.
    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError>;
    /// Makes `new` the current key of its scope: the keys current until now stay valid until
    /// `previous_valid_until`, keys whose grace has ended are removed. `Conflict` if another
    /// rotation of the same scope won the race.
    async fn rotate_webhook_key(&self, new: &WebhookKey, previous_valid_until: i64, now: i64)
    -> Result<(), StoreError>;
    /// Sets whether deliveries must be signed on every key the integration has.
    async fn set_signature_requirement(&self, integration_id: &IntegrationId, required: bool)
    -> Result<(), StoreError>;
    /// Records a delivery exactly once, with its trigger when it builds, all or nothing. A
    /// delivery that builds is recognised by its build ([`Trigger::build_id`]: a resend, or the
    /// same push through another hook, is a duplicate); one that builds nothing by its
    /// [`DeliveryRecord::dedupe_key`].
    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, StoreError>;
    /// Adds a log entry that needs no dedupe (a duplicate's or a refusal's).
    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError>;
    /// The newest deliveries first, `limit` at a time; the cursor continues where a page ended.
    async fn list_deliveries(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError>;
}

/// Sync records, one per integration.
#[async_trait]
pub trait SyncStore: Send + Sync {
    async fn get_sync(&self, integration_id: &IntegrationId) -> Result<Option<SyncRecord>, StoreError>;
    /// Writes `record` if the stored one is the version it was made from (`record.version - 1`;
    /// none stored for version 1). `Conflict` for the loser of a race.
    async fn put_sync(&self, record: &SyncRecord) -> Result<(), StoreError>;
}

/// Which triggers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerFilter {
    pub status: Option<TriggerStatus>,
    pub integration_id: Option<IntegrationId>,
}

/// Build triggers: the queue build systems read, claim and report on.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError>;
    /// Up to `limit` triggers matching `filter`, oldest first, after the queue position `after`
    /// ([`Trigger::queue_position`]).
    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError>;
    /// Replaces the trigger if the stored one is still the version `updated` was made from
    /// (`updated.version - 1`): of two writers racing, one wins. `Conflict` for the other, and
    /// when the trigger is gone.
    async fn update_trigger(&self, updated: &Trigger) -> Result<(), StoreError>;
    /// The summary note kept for a merge request, unless its retention ended.
    async fn merge_request_note(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        iid: u64,
    ) -> Result<Option<MergeRequestNote>, StoreError>;
    /// Keeps a merge request's summary note (replacing the one kept before) until its
    /// `expires_at`.
    async fn keep_merge_request_note(&self, note: &MergeRequestNote) -> Result<(), StoreError>;
}

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("a secret with this name exists")]
    Exists,
    #[error("no secret with this name")]
    NotFound,
    #[error("vault unavailable: {0}")]
    Unavailable(String),
}

/// Secret values, one per name (one per integration).
#[async_trait]
pub trait SecretVault: Send + Sync {
    /// Stores a new secret. `Exists` if the name is taken.
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError>;
    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError>;
    /// Reads past any cache: for values another Lambda may just have changed (rotated tokens).
    async fn get_secret_fresh(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        self.get_secret(name).await
    }
    /// Replaces the value of an existing secret. `NotFound` if there is none.
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError>;
    /// Deletes at once (no recovery window). Deleting what is gone is not an error.
    async fn delete_secret(&self, name: &str) -> Result<(), VaultError>;
}

/// Time and ids, so tests can control both.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
