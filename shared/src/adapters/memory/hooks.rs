//! The in-memory hook store: the project and group hooks we registered, their health and last
//! delivery.

use async_trait::async_trait;

use crate::adapters::memory::MemoryStore;
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::hooks::{HookHealth, HookRecord};
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::ports::{HookStore, StoreError};

impl MemoryStore {
    /// The record of a project, made empty when there is none.
    pub(super) fn hook_entry<'a>(
        hooks: &'a mut std::collections::HashMap<IntegrationId, std::collections::BTreeMap<ProjectId, HookRecord>>,
        integration_id: &IntegrationId,
        project_id: ProjectId,
    ) -> &'a mut HookRecord {
        hooks
            .entry(integration_id.clone())
            .or_default()
            .entry(project_id)
            .or_insert_with(|| HookRecord {
                project_id,
                hook_id: None,
                alert_status: None,
                disabled_until: None,
                checked_at: None,
                last_delivery_at: None,
            })
    }
}

#[async_trait]
impl HookStore for MemoryStore {
    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        Self::hook_entry(&mut t.hooks, integration_id, project_id).hook_id = Some(hook_id);
        Ok(())
    }

    async fn set_hook_health(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        health: &HookHealth,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        if let Some(record) = t
            .hooks
            .get_mut(integration_id)
            .and_then(|hooks| hooks.get_mut(&project_id))
            .filter(|r| r.hook_id.is_some())
        {
            record.alert_status = health.alert_status.clone();
            record.disabled_until = health.disabled_until.clone();
            record.checked_at = Some(health.checked_at);
        }
        Ok(())
    }

    async fn note_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        at: i64,
    ) -> Result<(), StoreError> {
        if let Some(record) = self
            .lock()
            .hooks
            .get_mut(integration_id)
            .and_then(|hooks| hooks.get_mut(&project_id))
            .filter(|r| r.hook_id.is_some())
        {
            record.last_delivery_at = Some(at);
        }
        Ok(())
    }

    async fn remove_hook(&self, integration_id: &IntegrationId, project_id: ProjectId) -> Result<(), StoreError> {
        let mut t = self.lock();
        if let Some(record) = t
            .hooks
            .get_mut(integration_id)
            .and_then(|hooks| hooks.get_mut(&project_id))
        {
            record.hook_id = None;
            record.alert_status = None;
            record.disabled_until = None;
            record.checked_at = None;
        }
        Ok(())
    }

    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<HookRecord>, StoreError> {
        let t = self.lock();
        Ok(t.hooks
            .get(integration_id)
            .map(|hooks| hooks.values().filter(|r| r.hook_id.is_some()).cloned().collect())
            .unwrap_or_default())
    }

    async fn get_hooks(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<HookRecord>, StoreError> {
        let t = self.lock();
        let Some(hooks) = t.hooks.get(integration_id) else {
            return Ok(Vec::new());
        };
        Ok(projects
            .iter()
            .filter_map(|p| hooks.get(p))
            .filter(|r| r.hook_id.is_some())
            .cloned()
            .collect())
    }

    async fn put_group_hook(&self, integration_id: &IntegrationId, hook: &GroupHookRecord) -> Result<(), StoreError> {
        let mut t = self.lock();
        let hooks = t.group_hooks.entry(integration_id.clone()).or_default();
        hooks.insert(hook.group_id, hook.clone());
        Ok(())
    }

    async fn group_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<GroupHookRecord>, StoreError> {
        let t = self.lock();
        Ok(t.group_hooks
            .get(integration_id)
            .map(|h| h.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn group_hook(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
    ) -> Result<Option<GroupHookRecord>, StoreError> {
        let t = self.lock();
        Ok(t.group_hooks
            .get(integration_id)
            .and_then(|h| h.get(&group_id))
            .cloned())
    }

    async fn note_group_delivery(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        if let Some(hook) = t.group_hooks.get_mut(integration_id).and_then(|h| h.get_mut(&group_id)) {
            hook.last_delivery_at = Some(at);
        }
        Ok(())
    }

    async fn remove_group_hook(&self, integration_id: &IntegrationId, group_id: u64) -> Result<(), StoreError> {
        let mut t = self.lock();
        if let Some(hooks) = t.group_hooks.get_mut(integration_id) {
            hooks.remove(&group_id);
        }
        Ok(())
    }
}
