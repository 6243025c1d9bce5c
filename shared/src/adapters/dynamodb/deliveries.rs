//! The delivery log on DynamoDB: one item per delivery, written with one conditional put.
//!
//! - A delivery that builds is its trigger's item (`TRIGGER#{id}`, the id derived from the
//!   build), so a resend or a copy through another hook finds it there; its log entry is read
//!   back from the trigger through `gsi2` (`TRIGGERS#{integration}`).
//! - A delivery that builds nothing is its own dedupe marker (`DEDUPE#{sha256(key)}` under the
//!   integration) carrying the log entry, on `gsi2` under `DELIVERIES#{integration}`.
//! - Duplicates and refusals need no dedupe: a small `DELIVERY#{time}#{entry}` item each, on no
//!   index (entries of that shape written before deliveries were one item read the same way).
//!
//! The log, newest first, merges those three; its cursor is the last entry's sort key.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::adapters::dynamodb::keys::{
    DELIVERY_PREFIX, dedupe_sk, delivery_sk, integration_deliveries_gsi2pk, integration_pk, integration_triggers_gsi2pk,
};
use crate::adapters::dynamodb::{
    DynamoStore, GSI2, Item, TTL, condition_held, from_item, number, s, to_item, unavailable,
};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::IntegrationId;
use crate::domain::trigger::Trigger;
use crate::ports::{Recorded, StoreError};

impl DynamoStore {
    /// A duplicate's or a refusal's log entry: no dedupe, no index.
    pub(super) fn log_entry_item(delivery: &DeliveryRecord) -> Result<Item, StoreError> {
        let mut item = to_item(
            delivery,
            &[
                ("pk", integration_pk(&delivery.integration_id)),
                ("sk", delivery_sk(&delivery.sort_key())),
            ],
        )?;
        item.insert(TTL.into(), number(delivery.expires_at));
        Ok(item)
    }

    /// A delivery that builds nothing: its dedupe marker and log entry in one item.
    fn logged_delivery_item(delivery: &DeliveryRecord) -> Result<Item, StoreError> {
        let mut item = to_item(
            delivery,
            &[
                ("pk", integration_pk(&delivery.integration_id)),
                ("sk", dedupe_sk(&delivery.dedupe_key())),
                ("gsi2pk", integration_deliveries_gsi2pk(&delivery.integration_id)),
                ("gsi2sk", delivery.sort_key()),
            ],
        )?;
        item.insert(TTL.into(), number(delivery.expires_at));
        Ok(item)
    }

    /// Writes the delivery's one item unless it exists: the trigger's when it builds, else the
    /// logged delivery's. A refused condition is the duplicate (billed like the write, nothing
    /// more read).
    pub(super) async fn put_delivery_once(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, StoreError> {
        let item = match trigger {
            Some(trigger) => Self::trigger_item(trigger)?,
            None => Self::logged_delivery_item(delivery)?,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        Ok(if condition_held(result)? {
            Recorded::New
        } else {
            Recorded::Duplicate
        })
    }

    /// Up to `limit + 1` entries of the log newest first, before the sort key `before`.
    pub(super) async fn delivery_log_page(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        before: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        let want = limit + 1;
        let (built, logged, entries) = futures::try_join!(
            self.log_index_page(integration_triggers_gsi2pk(integration_id), want, before),
            self.log_index_page(integration_deliveries_gsi2pk(integration_id), want, before),
            self.log_entries_page(integration_id, want, before),
        )?;
        let mut merged = Vec::with_capacity(built.len() + logged.len() + entries.len());
        for item in built {
            merged.push(DeliveryRecord::of_trigger(&from_item::<Trigger>(item)?));
        }
        for item in logged.into_iter().chain(entries) {
            merged.push(from_item::<DeliveryRecord>(item)?);
        }
        merged.sort_by_key(|d| std::cmp::Reverse(d.sort_key()));
        let more = merged.len() > limit;
        merged.truncate(limit);
        let next = if more {
            merged.last().map(DeliveryRecord::sort_key)
        } else {
            None
        };
        Ok((merged, next))
    }

    /// Newest first from one `gsi2` partition, before `before`.
    async fn log_index_page(
        &self,
        gsi2pk: String,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .expression_attribute_values(":pk", s(gsi2pk))
            .scan_index_forward(false)
            .limit(limit as i32);
        query = match before {
            Some(before) => query
                .key_condition_expression("gsi2pk = :pk AND gsi2sk < :before")
                .expression_attribute_values(":before", s(before)),
            None => query.key_condition_expression("gsi2pk = :pk"),
        };
        Ok(query.send().await.map_err(unavailable)?.items.unwrap_or_default())
    }

    /// Newest first of the integration's `DELIVERY#` entries, before `before`.
    async fn log_entries_page(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(integration_pk(integration_id)))
            .scan_index_forward(false);
        let query = match before {
            // BETWEEN includes its end: one more is read, and the cursor's own entry dropped.
            Some(before) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :before")
                .expression_attribute_values(":first", s(DELIVERY_PREFIX))
                .expression_attribute_values(":before", s(delivery_sk(before)))
                .limit(limit as i32 + 1),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :first)")
                .expression_attribute_values(":first", s(DELIVERY_PREFIX))
                .limit(limit as i32),
        };
        let items = query.send().await.map_err(unavailable)?.items.unwrap_or_default();
        let cursor_sk = before.map(delivery_sk);
        Ok(items
            .into_iter()
            .filter(|item| match (&cursor_sk, item.get("sk")) {
                (Some(cursor), Some(AttributeValue::S(sk))) => sk != cursor,
                _ => true,
            })
            .collect())
    }
}
