//! The in-memory repository store: repositories by integration and project, their name index and
//! the project hooks we registered.

use async_trait::async_trait;

use crate::adapters::memory::{MemoryStore, Tables};
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::index_merge::apply_change;
use crate::domain::integration::Repository;
use crate::domain::name_index::{IndexChange, IndexSlice, WhenMissing};
use crate::ports::{RepositoryStore, StoreError};

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

    async fn change_name_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError> {
        let mut tables = self.lock();
        let old = match tables.name_indexes.remove(integration_id) {
            Some(old) => old,
            None if when_missing == WhenMissing::Leave => return Ok(None),
            None => Vec::new(),
        };
        let index = apply_change(integration_id, old, change);
        let size = index.len();
        tables.name_indexes.insert(integration_id.clone(), index);
        Ok(Some(size))
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
            hooks,
            ..
        } = &mut *t;
        let repos = repositories.entry(integration_id.clone()).or_default();
        for repo in removals {
            repos.remove(&repo.external_id);
            repository_index.remove(&repo.id);
        }
        // A removed repository's hook record goes with it.
        if let Some(hooks) = hooks.get_mut(integration_id) {
            for repo in removals {
                hooks.remove(&repo.external_id);
            }
        }
        for repo in upserts {
            repos.insert(repo.external_id, repo.clone());
            repository_index.insert(repo.id.clone(), integration_id.clone());
        }
        Ok(())
    }
}
