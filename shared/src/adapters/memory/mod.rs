//! The in-memory store and vault: in-process maps for tests and benches. One
//! set of tables behind one lock; the store's ports are split by file (`repositories`,
//! `webhooks`: deliveries, triggers and syncs), the vault is in `vault`.

mod hooks;
mod repositories;
mod vault;
mod webhooks;

pub use vault::MemoryVault;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::delivery::DeliveryRecord;
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::hooks::HookRecord;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::name_index::IndexEntry;
use crate::domain::oauth::PendingAuthorization;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{IntegrationStore, OAuthStateStore, RefreshOutcome, StoreError};

#[derive(Default)]
pub(super) struct Tables {
    integrations: BTreeMap<IntegrationId, IntegrationRecord>,
    installations: BTreeMap<IntegrationId, BTreeMap<String, Installation>>,
    /// integration id → GitLab project id → repository.
    repositories: HashMap<IntegrationId, BTreeMap<ProjectId, Repository>>,
    /// repository id → integration id, the in-memory twin of the DynamoDB index.
    repository_index: HashMap<RepositoryId, IntegrationId>,
    /// digest → webhook key.
    webhook_keys: HashMap<String, WebhookKey>,
    /// integration id → dedupe keys seen.
    dedupe: HashMap<IntegrationId, std::collections::HashSet<String>>,
    /// integration id → sort key → log entry.
    deliveries: HashMap<IntegrationId, BTreeMap<String, DeliveryRecord>>,
    /// trigger id → trigger.
    triggers: HashMap<TriggerId, Trigger>,
    /// integration id → project → the hook we registered.
    hooks: HashMap<IntegrationId, BTreeMap<ProjectId, HookRecord>>,
    /// integration id → its name index.
    name_indexes: HashMap<IntegrationId, Vec<IndexEntry>>,
    /// integration id → its sync record.
    syncs: HashMap<IntegrationId, SyncRecord>,
    /// state digest → pending authorization.
    oauth_states: HashMap<String, PendingAuthorization>,
    /// integration id → group id → the group hook we registered.
    group_hooks: HashMap<IntegrationId, BTreeMap<u64, GroupHookRecord>>,
    /// (integration, project, merge request iid) → its summary note.
    merge_request_notes: HashMap<(IntegrationId, ProjectId, u64), MergeRequestNote>,
}

/// Integrations, installations and repositories in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to read.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn create_integration(
        &self,
        record: &IntegrationRecord,
        installation: Option<&Installation>,
        webhook_key: Option<&WebhookKey>,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.integrations.contains_key(&record.id) {
            return Err(StoreError::Conflict);
        }
        t.integrations.insert(record.id.clone(), record.clone());
        if let Some(key) = webhook_key {
            t.webhook_keys.insert(key.digest.clone(), key.clone());
        }
        if let Some(inst) = installation {
            t.installations
                .entry(record.id.clone())
                .or_default()
                .insert(inst.id.clone(), inst.clone());
        }
        Ok(())
    }

    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        Ok(self.lock().integrations.get(id).cloned())
    }

    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        Ok(self.lock().integrations.values().cloned().collect())
    }

    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError> {
        let mut t = self.lock();
        match t.integrations.get_mut(&record.id) {
            Some(existing) if existing.record_version == record.record_version => {
                *existing = IntegrationRecord {
                    record_version: record.record_version + 1,
                    ..record.clone()
                };
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError> {
        let mut t = self.lock();
        if !t.integrations.contains_key(&installation.integration_id) {
            return Err(StoreError::Conflict);
        }
        t.installations
            .entry(installation.integration_id.clone())
            .or_default()
            .insert(installation.id.clone(), installation.clone());
        Ok(())
    }

    async fn list_installations(&self, integration_id: &IntegrationId) -> Result<Vec<Installation>, StoreError> {
        Ok(self
            .lock()
            .installations
            .get(integration_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let mut t = self.lock();
        t.webhook_keys.retain(|_, k| &k.integration_id != id);
        t.triggers.retain(|_, trigger| &trigger.integration_id != id);
        Ok(())
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let mut t = self.lock();
        t.integrations.remove(id);
        t.installations.remove(id);
        if let Some(repos) = t.repositories.remove(id) {
            for repo in repos.values() {
                t.repository_index.remove(&repo.id);
            }
        }
        t.webhook_keys.retain(|_, k| &k.integration_id != id);
        t.dedupe.remove(id);
        t.deliveries.remove(id);
        t.triggers.retain(|_, trigger| &trigger.integration_id != id);
        t.syncs.remove(id);
        t.name_indexes.remove(id);
        t.hooks.remove(id);
        t.group_hooks.remove(id);
        t.merge_request_notes.retain(|(integration, _, _), _| integration != id);
        Ok(())
    }

    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(record) = t.integrations.get_mut(id) else {
            return Err(StoreError::Conflict);
        };
        Ok(record.take_refresh_lease(owner, now, until))
    }

    async fn complete_refresh(
        &self,
        id: &IntegrationId,
        owner: &str,
        outcome: Option<&RefreshOutcome>,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        let Some(existing) = t.integrations.get_mut(id) else {
            return Err(StoreError::Conflict);
        };
        if !existing.release_refresh_lease(owner) {
            return Err(StoreError::Conflict);
        }
        if let Some(outcome) = outcome {
            outcome.apply_to(existing);
        }
        Ok(())
    }
}

#[async_trait]
impl OAuthStateStore for MemoryStore {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.oauth_states.contains_key(&pending.state_digest) {
            return Err(StoreError::Conflict);
        }
        t.oauth_states.insert(pending.state_digest.clone(), pending.clone());
        Ok(())
    }

    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError> {
        Ok(self.lock().oauth_states.remove(state_digest))
    }
}
