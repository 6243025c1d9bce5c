//! The embedded store and vault: in-process maps for the local runner and unit tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::name_index::{IndexEntry, IndexSlice};
use crate::domain::oauth::PendingAuthorization;
use crate::domain::secrets::copy_secret;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{
    IntegrationStore, OAuthStateStore, Recorded, RepositoryStore, SecretVault, StoreError, SyncStore, TriggerFilter,
    TriggerStore, VaultError, WebhookStore,
};

#[derive(Default)]
struct Tables {
    integrations: BTreeMap<IntegrationId, IntegrationRecord>,
    installations: BTreeMap<IntegrationId, BTreeMap<String, Installation>>,
    /// integration id → GitLab project id → repository.
    repositories: HashMap<IntegrationId, BTreeMap<ProjectId, Repository>>,
    /// repository id → integration id, the embedded twin of the DynamoDB index.
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
    hooks: HashMap<IntegrationId, BTreeMap<ProjectId, u64>>,
    /// integration id → its name index.
    name_indexes: HashMap<IntegrationId, Vec<IndexEntry>>,
    /// integration id → its sync record.
    syncs: HashMap<IntegrationId, SyncRecord>,
    /// state digest → pending authorization.
    oauth_states: HashMap<String, PendingAuthorization>,
}

/// Integrations, installations and repositories in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
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
            Some(existing) => {
                *existing = record.clone();
                Ok(())
            }
            None => Err(StoreError::Conflict),
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
        if record.refresh_lease_until.is_some_and(|held| held >= now) {
            return Ok(false);
        }
        record.refresh_lease_until = Some(until);
        record.refresh_lease_owner = Some(owner.to_string());
        Ok(true)
    }

    async fn complete_refresh(&self, record: &IntegrationRecord, owner: &str) -> Result<(), StoreError> {
        let mut t = self.lock();
        match t.integrations.get_mut(&record.id) {
            Some(existing) if existing.refresh_lease_owner.as_deref() == Some(owner) => {
                *existing = IntegrationRecord {
                    refresh_lease_until: None,
                    refresh_lease_owner: None,
                    ..record.clone()
                };
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
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

#[async_trait]
impl RepositoryStore for MemoryStore {
    async fn list_repositories(&self, integration_id: &IntegrationId) -> Result<Vec<Repository>, StoreError> {
        Ok(self
            .lock()
            .repositories
            .get(integration_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn get_repository(&self, repository_id: &RepositoryId) -> Result<Option<Repository>, StoreError> {
        let t = self.lock();
        let Some(integration_id) = t.repository_index.get(repository_id) else {
            return Ok(None);
        };
        Ok(t.repositories
            .get(integration_id)
            .and_then(|m| m.values().find(|r| &r.id == repository_id))
            .cloned())
    }

    async fn get_repositories(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<Repository>, StoreError> {
        let t = self.lock();
        let Some(repos) = t.repositories.get(integration_id) else {
            return Ok(Vec::new());
        };
        Ok(projects.iter().filter_map(|p| repos.get(p).cloned()).collect())
    }

    async fn stale_repositories(
        &self,
        integration_id: &IntegrationId,
        generation: u64,
    ) -> Result<Vec<Repository>, StoreError> {
        let t = self.lock();
        let Some(repos) = t.repositories.get(integration_id) else {
            return Ok(Vec::new());
        };
        Ok(repos
            .values()
            .filter(|r| r.sync_generation < generation)
            .cloned()
            .collect())
    }

    async fn read_name_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError> {
        let t = self.lock();
        Ok(t.name_indexes.get(integration_id).map(|index| IndexSlice {
            entries: index
                .iter()
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .cloned()
                .collect(),
            total: index.len(),
        }))
    }

    async fn write_name_index(&self, integration_id: &IntegrationId, entries: &[IndexEntry]) -> Result<(), StoreError> {
        self.lock()
            .name_indexes
            .insert(integration_id.clone(), entries.to_vec());
        Ok(())
    }

    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError> {
        self.lock()
            .hooks
            .entry(integration_id.clone())
            .or_default()
            .insert(project_id, hook_id);
        Ok(())
    }

    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<(ProjectId, u64)>, StoreError> {
        Ok(self
            .lock()
            .hooks
            .get(integration_id)
            .map(|h| h.iter().map(|(p, id)| (*p, *id)).collect())
            .unwrap_or_default())
    }

    async fn write_repositories(
        &self,
        integration_id: &IntegrationId,
        upserts: &[Repository],
        removals: &[Repository],
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        let Tables {
            repositories,
            repository_index,
            ..
        } = &mut *t;
        let repos = repositories.entry(integration_id.clone()).or_default();
        for repo in removals {
            repos.remove(&repo.external_id);
            repository_index.remove(&repo.id);
        }
        for repo in upserts {
            repos.insert(repo.external_id, repo.clone());
            repository_index.insert(repo.id.clone(), integration_id.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError> {
        Ok(self.lock().webhook_keys.get(digest).cloned())
    }

    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError> {
        let t = self.lock();
        Ok(t.webhook_keys
            .values()
            .filter(|k| &k.integration_id == integration_id && k.project_id == project_id)
            .cloned()
            .collect())
    }

    async fn rotate_webhook_key(
        &self,
        new: &WebhookKey,
        previous_valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        if !t.integrations.contains_key(&new.integration_id) {
            return Err(StoreError::Conflict);
        }
        t.webhook_keys.retain(|_, k| {
            let same_scope = k.integration_id == new.integration_id && k.project_id == new.project_id;
            !(same_scope && k.valid_until.is_some_and(|until| until <= now))
        });
        for key in t.webhook_keys.values_mut() {
            if key.integration_id == new.integration_id && key.project_id == new.project_id && key.valid_until.is_none()
            {
                key.valid_until = Some(previous_valid_until);
            }
        }
        t.webhook_keys.insert(new.digest.clone(), new.clone());
        Ok(())
    }

    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
        repository: Option<ProjectId>,
    ) -> Result<Recorded, StoreError> {
        let mut t = self.lock();
        if t.dedupe
            .get(&delivery.integration_id)
            .is_some_and(|seen| seen.contains(&delivery.delivery_key))
        {
            return Ok(Recorded::Duplicate);
        }
        if let Some(project) = repository
            && !t
                .repositories
                .get(&delivery.integration_id)
                .is_some_and(|repos| repos.contains_key(&project))
        {
            return Ok(Recorded::RepositoryMissing);
        }
        t.dedupe
            .entry(delivery.integration_id.clone())
            .or_default()
            .insert(delivery.delivery_key.clone());
        t.deliveries
            .entry(delivery.integration_id.clone())
            .or_default()
            .insert(delivery.sort_key(), delivery.clone());
        if let Some(trigger) = trigger {
            t.triggers.insert(trigger.id.clone(), trigger.clone());
        }
        Ok(Recorded::New)
    }

    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        self.lock()
            .deliveries
            .entry(delivery.integration_id.clone())
            .or_default()
            .insert(delivery.sort_key(), delivery.clone());
        Ok(())
    }

    async fn list_deliveries(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        let t = self.lock();
        let Some(log) = t.deliveries.get(integration_id) else {
            return Ok((Vec::new(), None));
        };
        let mut newest_first = log
            .iter()
            .rev()
            .filter(|(key, _)| cursor.is_none_or(|c| key.as_str() < c));
        let page: Vec<DeliveryRecord> = newest_first.by_ref().take(limit).map(|(_, d)| d.clone()).collect();
        let more = newest_first.next().is_some();
        let next = if more {
            page.last().map(DeliveryRecord::sort_key)
        } else {
            None
        };
        Ok((page, next))
    }
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn get_sync(&self, integration_id: &IntegrationId) -> Result<Option<SyncRecord>, StoreError> {
        Ok(self.lock().syncs.get(integration_id).cloned())
    }

    async fn put_sync(&self, record: &SyncRecord) -> Result<(), StoreError> {
        let mut t = self.lock();
        let stored = t.syncs.get(&record.integration_id).map(|s| s.version);
        if stored.map_or(0, |v| v) + 1 != record.version {
            return Err(StoreError::Conflict);
        }
        t.syncs.insert(record.integration_id.clone(), record.clone());
        Ok(())
    }
}

#[async_trait]
impl TriggerStore for MemoryStore {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError> {
        Ok(self.lock().triggers.get(id).cloned())
    }

    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        let t = self.lock();
        let mut matching: Vec<(String, &Trigger)> = t
            .triggers
            .values()
            .filter(|tr| filter.status.is_none_or(|s| tr.status == s))
            .filter(|tr| filter.integration_id.as_ref().is_none_or(|i| &tr.integration_id == i))
            .map(|tr| (tr.queue_position(), tr))
            .filter(|(position, _)| after.is_none_or(|a| position.as_str() > a))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(matching.into_iter().take(limit).map(|(_, tr)| tr.clone()).collect())
    }

    async fn update_trigger(&self, updated: &Trigger) -> Result<(), StoreError> {
        let mut t = self.lock();
        match t.triggers.get_mut(&updated.id) {
            Some(stored) if stored.version + 1 == updated.version => {
                *stored = updated.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

/// Secrets in memory. Values are kept as `SecretString`, so they never print.
#[derive(Default)]
pub struct MemoryVault {
    secrets: Mutex<HashMap<String, SecretString>>,
}

impl MemoryVault {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        self.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SecretVault for MemoryVault {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let mut s = self.lock();
        if s.contains_key(name) {
            return Err(VaultError::Exists);
        }
        s.insert(name.to_string(), copy_secret(value));
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        Ok(self.lock().get(name).map(copy_secret))
    }

    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let mut s = self.lock();
        match s.get_mut(name) {
            Some(slot) => {
                *slot = copy_secret(value);
                Ok(())
            }
            None => Err(VaultError::NotFound),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), VaultError> {
        self.lock().remove(name);
        Ok(())
    }
}
