//! The trigger store on DynamoDB: each trigger in its own partition (found by id), queued on
//! `gsi1` by status and on `gsi2` by integration, oldest first; every change conditioned on the
//! version it was made from. A merge request's summary note id is an item under its
//! integration (`MRNOTE#`), so deleting the integration removes it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::dynamodb::keys::{
    META, TRIGGER_PREFIX, integration_pk, integration_triggers_gsi2pk, merge_request_note_sk, trigger_pk,
    trigger_queue_gsi1pk,
};
use crate::adapters::dynamodb::migration::MOVED_TO;
use crate::adapters::dynamodb::{
    DynamoStore, GSI1, GSI2, Item, TTL, condition_held, conflict_unless_held, delete_request, from_item, number, s,
    to_item, unavailable,
};
use crate::domain::ids::{IntegrationId, ProjectId, TriggerId};
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::ports::{StoreError, TriggerFilter, TriggerStore};

/// Whether a stream record's keys name a trigger's own item (the hand-off's records).
pub fn is_trigger_item(keys: &serde_dynamo::Item) -> bool {
    matches!(keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with(TRIGGER_PREFIX))
}

/// The trigger a stream record's new image holds; `None` for a build marker (which stands for
/// a trigger stored under another id, see `migration.rs`).
///
/// # Errors
/// When the image is neither a trigger's item nor a marker.
pub fn trigger_from_image(image: serde_dynamo::Item) -> Result<Option<Trigger>, StoreError> {
    let item: Item = image.into();
    trigger_of(item)
}

fn trigger_of(item: Item) -> Result<Option<Trigger>, StoreError> {
    if item.contains_key(MOVED_TO) {
        return Ok(None);
    }
    from_item(item).map(Some)
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
                ("gsi2pk", integration_triggers_gsi2pk(&trigger.integration_id)),
                ("gsi2sk", trigger.queue_position()),
            ],
        )?;
        if let Some(at) = trigger.expires_at() {
            item.insert(TTL.into(), number(at));
        }
        Ok(item)
    }

    /// Up to `limit` triggers after `after` from one index partition: a status queue on `gsi1`,
    /// or one integration's triggers on `gsi2` (keeping those of `status` when given). Only the
    /// second reads what a filter drops, and only that integration's other triggers.
    async fn queue_page(
        &self,
        partition: QueuePartition<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        let (index, pk_name, sk_name, pk, status) = match partition {
            QueuePartition::Status(status) => (GSI1, "gsi1pk", "gsi1sk", trigger_queue_gsi1pk(status), None),
            QueuePartition::Integration(id, status) => {
                (GSI2, "gsi2pk", "gsi2sk", integration_triggers_gsi2pk(id), status)
            }
        };
        let mut found = Vec::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk.clone()))
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start.take());
            query = match after {
                Some(after) => query
                    .key_condition_expression("#pk = :pk AND #sk > :after")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":after", s(after)),
                None => query.key_condition_expression("#pk = :pk"),
            };
            if let Some(status) = status {
                query = query
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
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

    /// Removes every trigger of an integration (its delete), a page of its `gsi2` partition at
    /// a time.
    pub(super) async fn delete_integration_triggers(&self, integration_id: &IntegrationId) -> Result<(), StoreError> {
        loop {
            let triggers = self
                .queue_page(QueuePartition::Integration(integration_id, None), None, 1000)
                .await?;
            if triggers.is_empty() {
                return Ok(());
            }
            let requests = triggers
                .iter()
                .map(|t| delete_request(trigger_pk(&t.id), META.into()))
                .collect::<Result<Vec<_>, _>>()?;
            self.batch_write(requests).await?;
        }
    }
}

/// Where a page of the queue is read from.
enum QueuePartition<'a> {
    Status(TriggerStatus),
    Integration(&'a IntegrationId, Option<TriggerStatus>),
}

#[async_trait]
impl TriggerStore for DynamoStore {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError> {
        Ok(self
            .get(trigger_pk(id), META.into())
            .await?
            .map(trigger_of)
            .transpose()?
            .flatten())
    }

    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError> {
        if let Some(id) = &filter.integration_id {
            return self
                .queue_page(QueuePartition::Integration(id, filter.status), after, limit)
                .await;
        }
        let statuses: Vec<TriggerStatus> = match filter.status {
            Some(status) => vec![status],
            None => TriggerStatus::ALL.to_vec(),
        };
        let pages = futures::future::try_join_all(
            statuses
                .into_iter()
                .map(|status| self.queue_page(QueuePartition::Status(status), after, limit)),
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

    async fn merge_request_note(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        iid: u64,
    ) -> Result<Option<MergeRequestNote>, StoreError> {
        self.get(integration_pk(integration_id), merge_request_note_sk(project_id, iid))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn keep_merge_request_note(&self, note: &MergeRequestNote) -> Result<(), StoreError> {
        let mut item = to_item(
            note,
            &[
                ("pk", integration_pk(&note.integration_id)),
                ("sk", merge_request_note_sk(note.project_id, note.iid)),
            ],
        )?;
        item.insert(TTL.into(), number(note.expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
