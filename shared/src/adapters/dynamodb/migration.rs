//! The one-time move of triggers stored before a delivery was one item, run by a schedule until
//! its marker says done; no request ever reads the old shape.
//!
//! A trigger stored before has a random id and no `gsi2` entry, and its delivery kept a log entry
//! of its own. Each such trigger gets:
//! - a build marker at the id its build derives (`moved_to` names the trigger), so a resend
//!   of its delivery, or the same push through another hook, is still a duplicate;
//! - its repository's full name and clone URL, and its `gsi2` entry (it joins its integration's
//!   queue), by rewriting it, conditioned on its version;
//! - its old log entry removed, since the trigger serves as that entry.
//!
//! The marker item (`MIGRATION`, `STORAGE_SHAPE_2`) keeps the scan's position between runs.

use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::dynamodb::keys::{
    META, TRIGGER_PREFIX, dedupe_sk, delivery_sk, integration_pk, repository_sk, trigger_pk,
};
use crate::adapters::dynamodb::{DynamoStore, Item, TTL, condition_held, from_item, number, s, unavailable};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::integration::Repository;
use crate::domain::trigger::Trigger;
use crate::ports::StoreError;

const MIGRATION_PK: &str = "MIGRATION";
const STORAGE_SHAPE_2: &str = "STORAGE_SHAPE_2";
/// How long before its deadline a run stops scanning.
const STOP_BEFORE_DEADLINE: Duration = Duration::from_secs(10);
/// The attribute of a build marker that names the trigger it stands for.
pub(super) const MOVED_TO: &str = "moved_to";

/// Where the migration stands after a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MigrationProgress {
    /// Triggers moved by this run.
    pub triggers_moved: u64,
    /// Whether every trigger has been looked at (later runs do nothing but read the marker).
    pub done: bool,
}

impl DynamoStore {
    /// Moves triggers of the old shape, a scan page at a time, until none is left or `deadline`
    /// nears; `retention_secs` is how long a delivery's dedupe protection lasts.
    ///
    /// # Errors
    /// A storage failure; the position reached so far is kept.
    pub async fn migrate_storage_shape(
        &self,
        retention_secs: i64,
        deadline: Option<Instant>,
    ) -> Result<MigrationProgress, StoreError> {
        let marker = self.get(MIGRATION_PK.into(), STORAGE_SHAPE_2.into()).await?;
        if marker.as_ref().and_then(|m| m.get("done")) == Some(&AttributeValue::Bool(true)) {
            return Ok(MigrationProgress {
                triggers_moved: 0,
                done: true,
            });
        }
        let mut start = marker.and_then(|m| match m.get("position") {
            Some(AttributeValue::M(position)) => Some(position.clone()),
            _ => None,
        });
        let mut progress = MigrationProgress::default();
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :trigger) AND attribute_not_exists(#moved)")
                .expression_attribute_names("#moved", MOVED_TO)
                .expression_attribute_values(":trigger", s(TRIGGER_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                if self.move_trigger(from_item(item)?, retention_secs).await? {
                    progress.triggers_moved += 1;
                }
            }
            start = page.last_evaluated_key;
            progress.done = start.is_none();
            self.save_position(start.clone()).await?;
            if progress.done || deadline.is_some_and(|d| Instant::now() + STOP_BEFORE_DEADLINE >= d) {
                return Ok(progress);
            }
        }
    }

    async fn save_position(&self, position: Option<Item>) -> Result<(), StoreError> {
        let mut item = Item::from([
            ("pk".to_string(), s(MIGRATION_PK)),
            ("sk".to_string(), s(STORAGE_SHAPE_2)),
            ("done".to_string(), AttributeValue::Bool(position.is_none())),
        ]);
        if let Some(position) = position {
            item.insert("position".into(), AttributeValue::M(position));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Moves one trigger; answers whether it was of the old shape. Every step may be repeated.
    async fn move_trigger(&self, mut trigger: Trigger, retention_secs: i64) -> Result<bool, StoreError> {
        let build = trigger.build_id();
        if build == trigger.id {
            return Ok(false);
        }
        let marker = Item::from([
            ("pk".to_string(), s(trigger_pk(&build))),
            ("sk".to_string(), s(META)),
            (MOVED_TO.to_string(), s(trigger.id.as_str())),
            (TTL.to_string(), number(trigger.created_at + retention_secs)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(marker))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        condition_held(result)?;

        let pk = integration_pk(&trigger.integration_id);
        // The delivery's own dedupe marker names its old log entry.
        let old_marker = dedupe_sk(&DeliveryRecord::of_trigger(&trigger).dedupe_key());
        if let Some(AttributeValue::S(entry)) = self
            .get(pk.clone(), old_marker)
            .await?
            .and_then(|mut m| m.remove("entry"))
        {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(delivery_sk(&entry)))
                .send()
                .await
                .map_err(unavailable)?;
        }

        for _ in 0..3 {
            if (trigger.full_name.is_none() || trigger.clone_url.is_none())
                && let Some(item) = self.get(pk.clone(), repository_sk(trigger.project_id)).await?
            {
                let repository: Repository = from_item(item)?;
                trigger.full_name = Some(repository.full_name);
                trigger.clone_url = repository.clone_url;
            }
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::trigger_item(&trigger)?))
                .condition_expression("version = :read")
                .expression_attribute_values(":read", number(trigger.version as i64))
                .send()
                .await;
            if condition_held(result)? {
                return Ok(true);
            }
            // Claimed or reported meanwhile: read it again and move what is there now.
            match self.get(trigger_pk(&trigger.id), META.into()).await? {
                Some(item) => trigger = from_item(item)?,
                None => return Ok(true),
            }
        }
        Err(StoreError::Conflict)
    }
}
