//! Repositories by integration and project, their name index, and the project hooks we registered.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use crate::adapters::embedded::{
    EmbeddedStore, GROUP_HOOKS, HOOKS, NAME_INDEX, NAME_INDEX_SIZES, REPOSITORIES, REPOSITORY_IDS, decode, get,
    project_key, put, range_of, remove, remove_range, scan, unavailable, under,
};
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::hooks::{HookHealth, HookRecord};
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::index_merge::apply_change;
use crate::domain::integration::Repository;
use crate::domain::name_index::{IndexChange, IndexEntry, IndexSlice, WhenMissing};
use crate::ports::{HookStore, RepositoryStore, StoreError};

/// `{integration}\0{position:010}`: index entries in order.
fn position_key(integration: &IntegrationId, position: usize) -> String {
    format!("{integration}\0{position:010}")
}

/// Changes the project's hook record, made empty first when there is none.
pub(super) fn change_hook(
    txn: &WriteTransaction,
    integration: &IntegrationId,
    project: ProjectId,
    change: impl FnOnce(&mut HookRecord),
) -> Result<(), StoreError> {
    let mut hooks = txn.open_table(HOOKS).map_err(unavailable)?;
    let key = project_key(integration, project);
    let mut record = get::<HookRecord>(&hooks, &key)?.unwrap_or(HookRecord {
        project_id: project,
        hook_id: None,
        alert_status: None,
        disabled_until: None,
        checked_at: None,
        last_delivery_at: None,
    });
    change(&mut record);
    put(&mut hooks, &key, &record)
}

#[async_trait]
impl RepositoryStore for EmbeddedStore {
    async fn list_repositories(&self, integration_id: &IntegrationId) -> Result<Vec<Repository>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(REPOSITORIES).map_err(unavailable)?;
            Ok(scan(&table, integration_id.as_str())?
                .into_iter()
                .map(|(_, r)| r)
                .collect())
        })
    }

    async fn get_repository(&self, repository_id: &RepositoryId) -> Result<Option<Repository>, StoreError> {
        self.read(|txn| {
            let ids = txn.open_table(REPOSITORY_IDS).map_err(unavailable)?;
            let Some(key) = ids.get(repository_id.as_str()).map_err(unavailable)? else {
                return Ok(None);
            };
            let key = String::from_utf8_lossy(key.value()).into_owned();
            get(&txn.open_table(REPOSITORIES).map_err(unavailable)?, &key)
        })
    }

    async fn get_repositories(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<Repository>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(REPOSITORIES).map_err(unavailable)?;
            let mut found = Vec::new();
            for project in projects {
                if let Some(repo) = get(&table, &project_key(integration_id, *project))? {
                    found.push(repo);
                }
            }
            Ok(found)
        })
    }

    async fn stale_repositories(
        &self,
        integration_id: &IntegrationId,
        generation: u64,
    ) -> Result<Vec<Repository>, StoreError> {
        let all = self.list_repositories(integration_id).await?;
        Ok(all.into_iter().filter(|r| r.sync_generation < generation).collect())
    }

    async fn read_name_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError> {
        self.read(|txn| {
            let sizes = txn.open_table(NAME_INDEX_SIZES).map_err(unavailable)?;
            let Some(total) = get::<usize>(&sizes, integration_id.as_str())? else {
                return Ok(None);
            };
            let index = txn.open_table(NAME_INDEX).map_err(unavailable)?;
            let start = position_key(integration_id, offset);
            let (_, end) = range_of(integration_id.as_str());
            let mut entries = Vec::new();
            for entry in index
                .range(start.as_str()..end.as_str())
                .map_err(unavailable)?
                .take(limit.unwrap_or(usize::MAX))
            {
                let (_, value) = entry.map_err(unavailable)?;
                entries.push(decode(value.value())?);
            }
            Ok(Some(IndexSlice { entries, total }))
        })
    }

    async fn change_name_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError> {
        let integration = integration_id.clone();
        // One write transaction reads, merges and writes: writers are serial, so none loses
        // another's entries.
        self.write(move |txn| {
            let mut sizes = txn.open_table(NAME_INDEX_SIZES).map_err(unavailable)?;
            if get::<usize>(&sizes, integration.as_str())?.is_none() && when_missing == WhenMissing::Leave {
                return Ok(None);
            }
            let mut index = txn.open_table(NAME_INDEX).map_err(unavailable)?;
            let (start, end) = range_of(integration.as_str());
            let mut old = Vec::new();
            for entry in index.range(start.as_str()..end.as_str()).map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                old.push(decode::<IndexEntry>(value.value())?);
            }
            let entries = apply_change(&integration, old, change);
            remove_range(&mut index, integration.as_str())?;
            for (position, entry) in entries.iter().enumerate() {
                put(&mut index, &position_key(&integration, position), entry)?;
            }
            put(&mut sizes, integration.as_str(), &entries.len())?;
            Ok(Some(entries.len()))
        })
        .await
    }

    async fn write_repositories(
        &self,
        integration_id: &IntegrationId,
        upserts: &[Repository],
        removals: &[Repository],
    ) -> Result<(), StoreError> {
        let (integration, upserts, removals) = (integration_id.clone(), upserts.to_vec(), removals.to_vec());
        self.write(move |txn| {
            let mut repositories = txn.open_table(REPOSITORIES).map_err(unavailable)?;
            let mut ids = txn.open_table(REPOSITORY_IDS).map_err(unavailable)?;
            let mut hooks = txn.open_table(HOOKS).map_err(unavailable)?;
            for repo in &removals {
                let key = project_key(&integration, repo.external_id);
                remove(&mut repositories, &key)?;
                remove(&mut ids, repo.id.as_str())?;
                // A removed repository's hook record goes with it.
                remove(&mut hooks, &key)?;
            }
            for repo in &upserts {
                let key = project_key(&integration, repo.external_id);
                put(&mut repositories, &key, repo)?;
                ids.insert(repo.id.as_str(), key.as_bytes()).map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl HookStore for EmbeddedStore {
    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError> {
        let integration = integration_id.clone();
        self.write(move |txn| change_hook(txn, &integration, project_id, |r| r.hook_id = Some(hook_id)))
            .await
    }

    async fn set_hook_health(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        health: &HookHealth,
    ) -> Result<(), StoreError> {
        let (integration, health) = (integration_id.clone(), health.clone());
        self.write(move |txn| {
            let mut hooks = txn.open_table(HOOKS).map_err(unavailable)?;
            let key = project_key(&integration, project_id);
            if let Some(mut record) = get::<HookRecord>(&hooks, &key)?.filter(|r| r.hook_id.is_some()) {
                record.alert_status = health.alert_status;
                record.disabled_until = health.disabled_until;
                record.checked_at = Some(health.checked_at);
                put(&mut hooks, &key, &record)?;
            }
            Ok(())
        })
        .await
    }

    async fn note_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        at: i64,
    ) -> Result<(), StoreError> {
        let integration = integration_id.clone();
        self.write(move |txn| {
            let mut hooks = txn.open_table(HOOKS).map_err(unavailable)?;
            let key = project_key(&integration, project_id);
            if let Some(mut record) = get::<HookRecord>(&hooks, &key)?.filter(|r| r.hook_id.is_some()) {
                record.last_delivery_at = Some(at);
                put(&mut hooks, &key, &record)?;
            }
            Ok(())
        })
        .await
    }

    async fn remove_hook(&self, integration_id: &IntegrationId, project_id: ProjectId) -> Result<(), StoreError> {
        let integration = integration_id.clone();
        self.write(move |txn| {
            let mut hooks = txn.open_table(HOOKS).map_err(unavailable)?;
            let key = project_key(&integration, project_id);
            // The record stays for its last delivery time; only what GitLab had goes.
            if let Some(mut record) = get::<HookRecord>(&hooks, &key)? {
                record.hook_id = None;
                record.alert_status = None;
                record.disabled_until = None;
                record.checked_at = None;
                put(&mut hooks, &key, &record)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<HookRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(HOOKS).map_err(unavailable)?;
            Ok(scan::<HookRecord>(&table, integration_id.as_str())?
                .into_iter()
                .map(|(_, r)| r)
                .filter(|r| r.hook_id.is_some())
                .collect())
        })
    }

    async fn get_hooks(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<HookRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(HOOKS).map_err(unavailable)?;
            let mut found = Vec::new();
            for project in projects {
                if let Some(record) =
                    get::<HookRecord>(&table, &project_key(integration_id, *project))?.filter(|r| r.hook_id.is_some())
                {
                    found.push(record);
                }
            }
            Ok(found)
        })
    }

    async fn put_group_hook(&self, integration_id: &IntegrationId, hook: &GroupHookRecord) -> Result<(), StoreError> {
        let (key, hook) = (group_key(integration_id, hook.group_id), hook.clone());
        self.write(move |txn| put(&mut txn.open_table(GROUP_HOOKS).map_err(unavailable)?, &key, &hook))
            .await
    }

    async fn group_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<GroupHookRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(GROUP_HOOKS).map_err(unavailable)?;
            Ok(scan::<GroupHookRecord>(&table, integration_id.as_str())?
                .into_iter()
                .map(|(_, r)| r)
                .collect())
        })
    }

    async fn group_hook(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
    ) -> Result<Option<GroupHookRecord>, StoreError> {
        let key = group_key(integration_id, group_id);
        self.read(|txn| get(&txn.open_table(GROUP_HOOKS).map_err(unavailable)?, &key))
    }

    async fn note_group_delivery(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
        at: i64,
    ) -> Result<(), StoreError> {
        let key = group_key(integration_id, group_id);
        self.write(move |txn| {
            let mut hooks = txn.open_table(GROUP_HOOKS).map_err(unavailable)?;
            if let Some(mut record) = get::<GroupHookRecord>(&hooks, &key)? {
                record.last_delivery_at = Some(at);
                put(&mut hooks, &key, &record)?;
            }
            Ok(())
        })
        .await
    }

    async fn remove_group_hook(&self, integration_id: &IntegrationId, group_id: u64) -> Result<(), StoreError> {
        let key = group_key(integration_id, group_id);
        self.write(move |txn| remove(&mut txn.open_table(GROUP_HOOKS).map_err(unavailable)?, &key))
            .await
    }
}

/// `{integration}\0{group:020}`.
fn group_key(integration_id: &IntegrationId, group_id: u64) -> String {
    under(integration_id, &format!("{group_id:020}"))
}
