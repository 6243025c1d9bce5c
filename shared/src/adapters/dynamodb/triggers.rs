//! The trigger store on DynamoDB: each trigger in its own partition (found by id), queued on
//! `gsi1` by status, oldest first; every change conditioned on the version it was made from.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::dynamodb::keys::{META, TRIGGER_PREFIX, trigger_pk, trigger_queue_gsi1pk};
use crate::adapters::dynamodb::{
    DynamoStore, GSI1, Item, TTL, condition_held, conflict_unless_held, delete_request, from_item, number, s, to_item,
    unavailable,
};
use crate::domain::ids::{IntegrationId, TriggerId};
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::ports::{StoreError, TriggerFilter, TriggerStore};

/// Whether a stream record's keys name a trigger's own item (the hand-off's records).
pub fn is_trigger_item(keys: &serde_dynamo::Item) -> bool {
    matches!(keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(TRIGGER_PREFIX))
}

/// The trigger a stream record's new image holds.
///
/// # Errors
/// When the image is not a trigger's item.
pub fn trigger_from_image(image: serde_dynamo::Item) -> Result<Trigger, StoreError> {
    let item: Item = image.into();
    from_item(item)
}

impl DynamoStore {
    pub(super) fn trigger_item(trigger: &Trigger) -> Result<Item, StoreError> {
        let mut item = to_item(
            trigger,
            &[
                ("pk", trigger_pk(&trigger.id)),
                ("sk", META.into()),
                ("gsi1pk", trigger_queue_gsi1pk(trigger.status)),
                ("gsi1sk", trigger.queue_position()),
            ],
        )?;
        if let Some(at) = trigger.expires_at() {
            item.insert(TTL.into(), number(at));
        }
        Ok(item)
    }

    /// Up to `limit` triggers of one status queue after `after`, of one integration if given.
    /// A filtered query may read pages with nothing for us; it keeps reading until it has
    /// `limit` or the queue ends.
    async fn queue_page(
        &self,
        status: TriggerStatus,
        integration_id: Option<&IntegrationId>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_values(":pk", s(trigger_queue_gsi1pk(status)))
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take());
            query = match after {
                Some(after) => query
                    .key_condition_expression("gsi1pk = :pk AND gsi1sk > :after")
                    .expression_attribute_values(":after", s(after)),
                None => query.key_condition_expression("gsi1pk = :pk"),
            };
            if let Some(id) = integration_id {
                query = query
                    .filter_expression("integration_id = :integration")
                    .expression_attribute_values(":integration", s(id.as_str()));
            }
            let out = query.send().await.map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item::<Trigger>(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if found.len() < limit => start = Some(key),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Removes every trigger of an integration (its delete).
    pub(super) async fn delete_integration_triggers(&self, integration_id: &IntegrationId) -> Result<(), StoreError> {
        for status in TriggerStatus::ALL {
            let triggers = self
                .queue_page(status, Some(integration_id), None, usize::MAX >> 1)
                .await?;
            let requests = triggers
                .iter()
                .map(|t| delete_request(trigger_pk(&t.id), META.into()))
                .collect::<Result<Vec<_>, _>>()?;
            self.batch_write(requests).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl TriggerStore for DynamoStore {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError> {
        self.get(trigger_pk(id), META.into()).await?.map(from_item).transpose()
    }

    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        let statuses: Vec<TriggerStatus> = match filter.status {
            Some(status) => vec![status],
            None => TriggerStatus::ALL.to_vec(),
        };
        let pages = futures::future::try_join_all(
            statuses
                .into_iter()
                .map(|status| self.queue_page(status, filter.integration_id.as_ref(), after, limit)),
        )
        .await?;
        let mut merged: Vec<Trigger> = pages.into_iter().flatten().collect();
        merged.sort_by_key(Trigger::queue_position);
        merged.truncate(limit);
        Ok(merged)
    }

    async fn update_trigger(&self, updated: &Trigger) -> Result<(), StoreError> {
        let expected = updated.version.checked_sub(1).ok_or(StoreError::Conflict)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::trigger_item(updated)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", number(expected as i64))
            .send()
            .await;
        conflict_unless_held(condition_held(result)?)
    }
}
