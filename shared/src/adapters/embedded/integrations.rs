//! Integrations, their installations, the refresh lease and pending OAuth authorizations.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use crate::adapters::embedded::expiry::{Kind, schedule};
use crate::adapters::embedded::{
    DEDUPE, DELIVERIES, EmbeddedStore, GROUP_HOOKS, HOOKS, INSTALLATIONS, INTEGRATIONS, KEYS_BY_INTEGRATION,
    MERGE_REQUEST_NOTES, NAME_INDEX, NAME_INDEX_SIZES, OAUTH_STATES, REPOSITORIES, REPOSITORY_IDS, SYNCS,
    TRIGGER_QUEUE, TRIGGERS, TRIGGERS_BY_INTEGRATION, WEBHOOK_KEYS, decode, exists, get, put, remove, remove_range,
    scan, scan_keys, unavailable, under,
};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::oauth::PendingAuthorization;
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{IntegrationStore, OAuthStateStore, RefreshOutcome, StoreError};

/// Removes the integration's webhook keys.
fn remove_keys(txn: &WriteTransaction, integration: &IntegrationId) -> Result<(), StoreError> {
    let mut by_integration = txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?;
    let mut keys = txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?;
    for digest in scan_keys(&by_integration, integration.as_str())? {
        remove(&mut keys, &digest)?;
    }
    remove_range(&mut by_integration, integration.as_str())
}

/// Removes the integration's build triggers, from the queue too.
fn remove_triggers(txn: &WriteTransaction, integration: &IntegrationId) -> Result<(), StoreError> {
    let mut by_integration = txn.open_table(TRIGGERS_BY_INTEGRATION).map_err(unavailable)?;
    let mut triggers = txn.open_table(TRIGGERS).map_err(unavailable)?;
    let mut queue = txn.open_table(TRIGGER_QUEUE).map_err(unavailable)?;
    for id in scan_keys(&by_integration, integration.as_str())? {
        if let Some(trigger) = get::<Trigger>(&triggers, &id)? {
            remove(&mut queue, &trigger.queue_position())?;
        }
        remove(&mut triggers, &id)?;
    }
    remove_range(&mut by_integration, integration.as_str())
}

/// Stores a webhook key and indexes it under its integration (and under its grace end).
pub(super) fn put_key(txn: &WriteTransaction, key: &WebhookKey) -> Result<(), StoreError> {
    put(
        &mut txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?,
        &key.digest,
        key,
    )?;
    txn.open_table(KEYS_BY_INTEGRATION)
        .map_err(unavailable)?
        .insert(
            under(&key.integration_id, &key.digest).as_str(),
            crate::adapters::embedded::NOTHING,
        )
        .map_err(unavailable)?;
    if let Some(until) = key.valid_until {
        schedule(txn, until, Kind::WebhookKey, &key.digest)?;
    }
    Ok(())
}

#[async_trait]
impl IntegrationStore for EmbeddedStore {
    async fn create_integration(
        &self,
        record: &IntegrationRecord,
        installation: Option<&Installation>,
        webhook_key: Option<&WebhookKey>,
    ) -> Result<(), StoreError> {
        let (record, installation, webhook_key) = (record.clone(), installation.cloned(), webhook_key.cloned());
        self.write(move |txn| {
            let mut integrations = txn.open_table(INTEGRATIONS).map_err(unavailable)?;
            if exists(&integrations, record.id.as_str())? {
                return Err(StoreError::Conflict);
            }
            put(&mut integrations, record.id.as_str(), &record)?;
            if let Some(inst) = installation {
                put(
                    &mut txn.open_table(INSTALLATIONS).map_err(unavailable)?,
                    &under(&record.id, &inst.id),
                    &inst,
                )?;
            }
            if let Some(key) = webhook_key {
                put_key(txn, &key)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        self.read(|txn| get(&txn.open_table(INTEGRATIONS).map_err(unavailable)?, id.as_str()))
    }

    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(INTEGRATIONS).map_err(unavailable)?;
            let mut records = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                records.push(decode(value.value())?);
            }
            Ok(records)
        })
    }

    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.write(move |txn| {
            let mut integrations = txn.open_table(INTEGRATIONS).map_err(unavailable)?;
            match get::<IntegrationRecord>(&integrations, record.id.as_str())? {
                Some(stored) if stored.record_version == record.record_version => {
                    let next = IntegrationRecord {
                        record_version: record.record_version + 1,
                        ..record
                    };
                    put(&mut integrations, next.id.as_str(), &next)
                }
                _ => Err(StoreError::Conflict),
            }
        })
        .await
    }

    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError> {
        let installation = installation.clone();
        self.write(move |txn| {
            if !exists(
                &txn.open_table(INTEGRATIONS).map_err(unavailable)?,
                installation.integration_id.as_str(),
            )? {
                return Err(StoreError::Conflict);
            }
            put(
                &mut txn.open_table(INSTALLATIONS).map_err(unavailable)?,
                &under(&installation.integration_id, &installation.id),
                &installation,
            )
        })
        .await
    }

    async fn list_installations(&self, integration_id: &IntegrationId) -> Result<Vec<Installation>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(INSTALLATIONS).map_err(unavailable)?;
            Ok(scan(&table, integration_id.as_str())?
                .into_iter()
                .map(|(_, i)| i)
                .collect())
        })
    }

    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let id = id.clone();
        self.write(move |txn| {
            remove_keys(txn, &id)?;
            remove_triggers(txn, &id)
        })
        .await
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let id = id.clone();
        self.write(move |txn| {
            let key = id.as_str();
            remove(&mut txn.open_table(INTEGRATIONS).map_err(unavailable)?, key)?;
            remove(&mut txn.open_table(SYNCS).map_err(unavailable)?, key)?;
            remove(&mut txn.open_table(NAME_INDEX_SIZES).map_err(unavailable)?, key)?;
            let mut repositories = txn.open_table(REPOSITORIES).map_err(unavailable)?;
            let mut repository_ids = txn.open_table(REPOSITORY_IDS).map_err(unavailable)?;
            for (_, repo) in scan::<Repository>(&repositories, key)? {
                remove(&mut repository_ids, repo.id.as_str())?;
            }
            remove_range(&mut repositories, key)?;
            for table in [
                INSTALLATIONS,
                NAME_INDEX,
                HOOKS,
                GROUP_HOOKS,
                MERGE_REQUEST_NOTES,
                DEDUPE,
                DELIVERIES,
            ] {
                remove_range(&mut txn.open_table(table).map_err(unavailable)?, key)?;
            }
            remove_keys(txn, &id)?;
            remove_triggers(txn, &id)
        })
        .await
    }

    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let (id, owner) = (id.clone(), owner.to_string());
        self.write(move |txn| {
            let mut integrations = txn.open_table(INTEGRATIONS).map_err(unavailable)?;
            let Some(mut record) = get::<IntegrationRecord>(&integrations, id.as_str())? else {
                return Err(StoreError::Conflict);
            };
            if !record.take_refresh_lease(&owner, now, until) {
                return Ok(false);
            }
            put(&mut integrations, id.as_str(), &record)?;
            Ok(true)
        })
        .await
    }

    async fn complete_refresh(
        &self,
        id: &IntegrationId,
        owner: &str,
        outcome: Option<&RefreshOutcome>,
    ) -> Result<(), StoreError> {
        let (id, owner, outcome) = (id.clone(), owner.to_string(), outcome.cloned());
        self.write(move |txn| {
            let mut integrations = txn.open_table(INTEGRATIONS).map_err(unavailable)?;
            let Some(mut record) = get::<IntegrationRecord>(&integrations, id.as_str())? else {
                return Err(StoreError::Conflict);
            };
            if !record.release_refresh_lease(&owner) {
                return Err(StoreError::Conflict);
            }
            if let Some(outcome) = outcome {
                outcome.apply_to(&mut record);
            }
            put(&mut integrations, id.as_str(), &record)
        })
        .await
    }
}

#[async_trait]
impl OAuthStateStore for EmbeddedStore {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let pending = pending.clone();
        self.write(move |txn| {
            let mut states = txn.open_table(OAUTH_STATES).map_err(unavailable)?;
            if exists(&states, &pending.state_digest)? {
                return Err(StoreError::Conflict);
            }
            put(&mut states, &pending.state_digest, &pending)?;
            schedule(txn, pending.expires_at, Kind::OAuthState, &pending.state_digest)
        })
        .await
    }

    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError> {
        let digest = state_digest.to_string();
        self.write(move |txn| {
            let mut states = txn.open_table(OAUTH_STATES).map_err(unavailable)?;
            let taken = get(&states, &digest)?;
            remove(&mut states, &digest)?;
            Ok(taken)
        })
        .await
    }
}
