//! Webhook keys and the delivery log with its dedupe markers; a new delivery's trigger is
//! written in the same transaction.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use crate::adapters::embedded::expiry::{Kind, schedule};
use crate::adapters::embedded::integrations::put_key;
use crate::adapters::embedded::triggers::put_trigger;
use crate::adapters::embedded::{
    DEDUPE, DELIVERIES, EmbeddedStore, INTEGRATIONS, KEYS_BY_INTEGRATION, WEBHOOK_KEYS, decode, exists, get, put,
    range_of, remove, scan_keys, unavailable, under,
};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::{AfterRotation, WebhookKey, scope_of};
use crate::ports::{Recorded, StoreError, WebhookStore};

/// Every key the integration has.
fn keys_of(
    by_integration: &impl ReadableTable<&'static str, &'static [u8]>,
    keys: &impl ReadableTable<&'static str, &'static [u8]>,
    integration: &IntegrationId,
) -> Result<Vec<WebhookKey>, StoreError> {
    let mut found = Vec::new();
    for digest in scan_keys(by_integration, integration.as_str())? {
        if let Some(key) = get(keys, &digest)? {
            found.push(key);
        }
    }
    Ok(found)
}

/// Writes a log entry and schedules its expiry.
fn put_delivery(txn: &WriteTransaction, delivery: &DeliveryRecord) -> Result<(), StoreError> {
    let key = under(&delivery.integration_id, &delivery.sort_key());
    put(&mut txn.open_table(DELIVERIES).map_err(unavailable)?, &key, delivery)?;
    schedule(txn, delivery.expires_at, Kind::Delivery, &key)
}

#[async_trait]
impl WebhookStore for EmbeddedStore {
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError> {
        self.read(|txn| get(&txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?, digest))
    }

    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError> {
        self.read(|txn| {
            let by_integration = txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?;
            let keys = txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?;
            Ok(keys_of(&by_integration, &keys, integration_id)?
                .into_iter()
                .filter(|k| k.scope() == scope_of(project_id))
                .collect())
        })
    }

    async fn rotate_webhook_key(
        &self,
        new: &WebhookKey,
        previous_valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let new = new.clone();
        self.write(move |txn| {
            if !exists(
                &txn.open_table(INTEGRATIONS).map_err(unavailable)?,
                new.integration_id.as_str(),
            )? {
                return Err(StoreError::Conflict);
            }
            let scope: Vec<WebhookKey> = {
                let by_integration = txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?;
                let keys = txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?;
                keys_of(&by_integration, &keys, &new.integration_id)?
                    .into_iter()
                    .filter(|k| k.scope() == new.scope())
                    .collect()
            };
            for mut key in scope {
                match key.after_rotation(previous_valid_until, now) {
                    AfterRotation::Remove => {
                        remove(&mut txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?, &key.digest)?;
                        remove(
                            &mut txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?,
                            &under(&key.integration_id, &key.digest),
                        )?;
                    }
                    AfterRotation::Keep => {}
                    AfterRotation::ValidUntil(until) => {
                        key.valid_until = Some(until);
                        put_key(txn, &key)?;
                    }
                }
            }
            put_key(txn, &new)
        })
        .await
    }

    async fn set_signature_requirement(
        &self,
        integration_id: &IntegrationId,
        required: bool,
    ) -> Result<(), StoreError> {
        let integration = integration_id.clone();
        self.write(move |txn| {
            let mut keys = txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?;
            let by_integration = txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?;
            for mut key in keys_of(&by_integration, &keys, &integration)? {
                key.require_signature = required;
                put(&mut keys, &key.digest.clone(), &key)?;
            }
            Ok(())
        })
        .await
    }

    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, StoreError> {
        let marker = under(&delivery.integration_id, &delivery.recorded_as(trigger));
        let (delivery, trigger) = (delivery.clone(), trigger.cloned());
        // One writer at a time: the marker checked here cannot be written by another delivery
        // before this transaction commits.
        self.write(move |txn| {
            let mut dedupe = txn.open_table(DEDUPE).map_err(unavailable)?;
            if exists(&dedupe, &marker)? {
                return Ok(Recorded::Duplicate);
            }
            put(&mut dedupe, &marker, &delivery.expires_at)?;
            schedule(txn, delivery.expires_at, Kind::Dedupe, &marker)?;
            put_delivery(txn, &delivery)?;
            if let Some(trigger) = &trigger {
                put_trigger(txn, trigger)?;
            }
            Ok(Recorded::New)
        })
        .await
    }

    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        let delivery = delivery.clone();
        self.write(move |txn| put_delivery(txn, &delivery)).await
    }

    async fn list_deliveries(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        self.read(|txn| {
            let log = txn.open_table(DELIVERIES).map_err(unavailable)?;
            let (start, end) = range_of(integration_id.as_str());
            let end = cursor.map_or(end, |c| under(integration_id, c));
            let mut newest_first = log.range(start.as_str()..end.as_str()).map_err(unavailable)?.rev();
            let mut page = Vec::new();
            for entry in newest_first.by_ref().take(limit) {
                let (_, value) = entry.map_err(unavailable)?;
                page.push(decode::<DeliveryRecord>(value.value())?);
            }
            let more = newest_first.next().is_some();
            let next = if more {
                page.last().map(DeliveryRecord::sort_key)
            } else {
                None
            };
            Ok((page, next))
        })
    }
}
