//! Build triggers (the queue build systems read, claim and report on), merge requests' summary
//! notes, and sync records.

use std::ops::Bound;

use async_trait::async_trait;
use redb::WriteTransaction;

use crate::adapters::embedded::expiry::{Kind, schedule};
use crate::adapters::embedded::{
    EmbeddedStore, MERGE_REQUEST_NOTES, NOTHING, SYNCS, TRIGGER_QUEUE, TRIGGERS, TRIGGERS_BY_INTEGRATION, get, put,
    unavailable, under,
};
use crate::domain::ids::{IntegrationId, ProjectId, TriggerId};
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::Trigger;
use crate::ports::{StoreError, SyncStore, TriggerFilter, TriggerStore};

/// Writes a trigger, its place in the queue and its entry under its integration; a final one is
/// scheduled to expire.
pub(super) fn put_trigger(txn: &WriteTransaction, trigger: &Trigger) -> Result<(), StoreError> {
    put(
        &mut txn.open_table(TRIGGERS).map_err(unavailable)?,
        trigger.id.as_str(),
        trigger,
    )?;
    txn.open_table(TRIGGER_QUEUE)
        .map_err(unavailable)?
        .insert(trigger.queue_position().as_str(), trigger.id.as_str().as_bytes())
        .map_err(unavailable)?;
    txn.open_table(TRIGGERS_BY_INTEGRATION)
        .map_err(unavailable)?
        .insert(under(&trigger.integration_id, trigger.id.as_str()).as_str(), NOTHING)
        .map_err(unavailable)?;
    if let Some(at) = trigger.expires_at() {
        schedule(txn, at, Kind::Trigger, trigger.id.as_str())?;
    }
    Ok(())
}

#[async_trait]
impl TriggerStore for EmbeddedStore {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError> {
        self.read(|txn| get(&txn.open_table(TRIGGERS).map_err(unavailable)?, id.as_str()))
    }

    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        self.read(|txn| {
            let queue = txn.open_table(TRIGGER_QUEUE).map_err(unavailable)?;
            let triggers = txn.open_table(TRIGGERS).map_err(unavailable)?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut found = Vec::new();
            for entry in queue.range::<&str>((start, Bound::Unbounded)).map_err(unavailable)? {
                if found.len() == limit {
                    break;
                }
                let (_, id) = entry.map_err(unavailable)?;
                let id = String::from_utf8_lossy(id.value()).into_owned();
                let Some(trigger) = get::<Trigger>(&triggers, &id)? else {
                    continue;
                };
                if filter.status.is_none_or(|s| trigger.status == s)
                    && filter
                        .integration_id
                        .as_ref()
                        .is_none_or(|i| &trigger.integration_id == i)
                {
                    found.push(trigger);
                }
            }
            Ok(found)
        })
    }

    async fn update_trigger(&self, updated: &Trigger) -> Result<(), StoreError> {
        let updated = updated.clone();
        self.write(move |txn| {
            let stored = get::<Trigger>(&txn.open_table(TRIGGERS).map_err(unavailable)?, updated.id.as_str())?;
            match stored {
                Some(stored) if stored.version + 1 == updated.version => put_trigger(txn, &updated),
                _ => Err(StoreError::Conflict),
            }
        })
        .await
    }

    async fn merge_request_note(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        iid: u64,
    ) -> Result<Option<MergeRequestNote>, StoreError> {
        let key = note_key(integration_id, project_id, iid);
        self.read(|txn| get(&txn.open_table(MERGE_REQUEST_NOTES).map_err(unavailable)?, &key))
    }

    async fn keep_merge_request_note(&self, note: &MergeRequestNote) -> Result<(), StoreError> {
        let note = note.clone();
        self.write(move |txn| {
            let key = note_key(&note.integration_id, note.project_id, note.iid);
            put(
                &mut txn.open_table(MERGE_REQUEST_NOTES).map_err(unavailable)?,
                &key,
                &note,
            )?;
            schedule(txn, note.expires_at, Kind::MergeRequestNote, &key)
        })
        .await
    }
}

/// `{integration}\0{project:020}#{iid}`.
pub(super) fn note_key(integration_id: &IntegrationId, project_id: ProjectId, iid: u64) -> String {
    under(integration_id, &format!("{:020}#{iid}", project_id.get()))
}

#[async_trait]
impl SyncStore for EmbeddedStore {
    async fn get_sync(&self, integration_id: &IntegrationId) -> Result<Option<SyncRecord>, StoreError> {
        self.read(|txn| get(&txn.open_table(SYNCS).map_err(unavailable)?, integration_id.as_str()))
    }

    async fn put_sync(&self, record: &SyncRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.write(move |txn| {
            let mut syncs = txn.open_table(SYNCS).map_err(unavailable)?;
            let stored = get::<SyncRecord>(&syncs, record.integration_id.as_str())?.map(|s| s.version);
            if stored.unwrap_or(0) + 1 != record.version {
                return Err(StoreError::Conflict);
            }
            put(&mut syncs, record.integration_id.as_str(), &record)?;
            drop(syncs);
            if let Some(at) = record.expires_at() {
                schedule(txn, at, Kind::Sync, record.integration_id.as_str())?;
            }
            Ok(())
        })
        .await
    }
}
