//! The in-memory webhook, trigger and sync stores: keys, the delivery log with its dedupe
//! markers, build triggers and sync records.

use async_trait::async_trait;

use crate::adapters::memory::MemoryStore;
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::{IntegrationId, ProjectId, TriggerId};
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::{AfterRotation, WebhookKey, scope_of};
use crate::ports::{Recorded, StoreError, SyncStore, TriggerFilter, TriggerStore, WebhookStore};

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
            .filter(|k| &k.integration_id == integration_id && k.scope() == scope_of(project_id))
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
        t.webhook_keys.retain(|_, key| {
            if key.integration_id != new.integration_id || key.scope() != new.scope() {
                return true;
            }
            match key.after_rotation(previous_valid_until, now) {
                AfterRotation::Keep => true,
                AfterRotation::ValidUntil(until) => {
                    key.valid_until = Some(until);
                    true
                }
                AfterRotation::Remove => false,
            }
        });
        t.webhook_keys.insert(new.digest.clone(), new.clone());
        Ok(())
    }

    async fn set_signature_requirement(
        &self,
        integration_id: &IntegrationId,
        required: bool,
    ) -> Result<(), StoreError> {
        for key in self.lock().webhook_keys.values_mut() {
            if &key.integration_id == integration_id {
                key.require_signature = required;
            }
        }
        Ok(())
    }

    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, StoreError> {
        let mut t = self.lock();
        let marker = delivery.recorded_as(trigger);
        if !t
            .dedupe
            .entry(delivery.integration_id.clone())
            .or_default()
            .insert(marker)
        {
            return Ok(Recorded::Duplicate);
        }
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

    async fn merge_request_note(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        iid: u64,
    ) -> Result<Option<MergeRequestNote>, StoreError> {
        let key = (integration_id.clone(), project_id, iid);
        Ok(self.lock().merge_request_notes.get(&key).cloned())
    }

    async fn keep_merge_request_note(&self, note: &MergeRequestNote) -> Result<(), StoreError> {
        let key = (note.integration_id.clone(), note.project_id, note.iid);
        self.lock().merge_request_notes.insert(key, note.clone());
        Ok(())
    }
}
