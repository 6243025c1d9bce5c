//! The webhook store on DynamoDB: webhook keys and their rotation; the delivery log is in
//! `deliveries.rs`, the rest of the trigger queue in `triggers.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::adapters::dynamodb::keys::{
    WEBHOOK_KEY_GSI1SK, WEBHOOK_KEY_ITEMS, integration_pk, webhook_head_sk, webhook_key_gsi1pk, webhook_key_prefix,
    webhook_key_sk,
};
use crate::adapters::dynamodb::{
    DynamoStore, Item, TTL, condition_held, delete_request, from_item, number, s, to_item, unavailable,
};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::{AfterRotation, WebhookKey, scope_of};
use crate::ports::{Recorded, StoreError, WebhookStore};

/// Older keys whose grace a rotation cuts inside its transaction (with the check, the head and
/// the new key: under DynamoDB's 100 writes).
const KEY_CUTS_IN_TRANSACTION: usize = 90;

const CUT_KEY: &str = "SET valid_until = :until, #ttl = :until";

impl DynamoStore {
    /// Ends a key's grace at `until` (and its TTL with it), inside a rotation's transaction.
    fn cut_key(&self, pk: &str, scope: &str, digest: &str, until: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk.to_string()))
            .key("sk", s(webhook_key_sk(scope, digest)))
            .update_expression(CUT_KEY)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":until", number(until))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The same cut on its own, after the transaction; a key removed meanwhile needs none.
    async fn cut_key_after(&self, pk: &str, scope: &str, digest: &str, until: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk.to_string()))
            .key("sk", s(webhook_key_sk(scope, digest)))
            .update_expression(CUT_KEY)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":until", number(until))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    pub(super) fn webhook_key_item(key: &WebhookKey) -> Result<Item, StoreError> {
        let mut item = to_item(
            key,
            &[
                ("pk", integration_pk(&key.integration_id)),
                ("sk", webhook_key_sk(&key.scope(), &key.digest)),
                ("gsi1pk", webhook_key_gsi1pk(&key.digest)),
                ("gsi1sk", WEBHOOK_KEY_GSI1SK.into()),
            ],
        )?;
        if let Some(until) = key.valid_until {
            item.insert(TTL.into(), AttributeValue::N(until.to_string()));
        }
        Ok(item)
    }

    pub(super) fn head_item(integration_id: &IntegrationId, scope: &str, current: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), s(integration_pk(integration_id))),
            ("sk".to_string(), s(webhook_head_sk(scope))),
            ("current_digest".to_string(), s(current)),
        ])
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError> {
        // The index finds where the key lives; the key itself is then read consistently, so a
        // key revoked or removed a moment ago (a rotation with grace 0, a deleted integration)
        // is seen as it is now, not as the index last copied it.
        let items = self.query_gsi1(&webhook_key_gsi1pk(digest)).await?;
        let Some(found) = items.into_iter().next() else {
            return Ok(None);
        };
        let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (found.get("pk"), found.get("sk")) else {
            return Ok(None);
        };
        self.get(pk.clone(), sk.clone()).await?.map(from_item).transpose()
    }

    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError> {
        self.keys_in_scope(integration_id, &scope_of(project_id)).await
    }

    async fn rotate_webhook_key(
        &self,
        new: &WebhookKey,
        previous_valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let pk = integration_pk(&new.integration_id);
        let scope = new.scope();
        let head = self.get(pk.clone(), webhook_head_sk(&scope)).await?;
        let current = match head.as_ref().and_then(|h| h.get("current_digest")) {
            Some(AttributeValue::S(digest)) => Some(digest.clone()),
            _ => None,
        };
        let keys = self.keys_in_scope(&new.integration_id, &scope).await?;
        // What the rotation does to each older key: the head's current key first, named by the
        // head (a scope may hold more keys than a transaction takes), then the others.
        let mut cuts: Vec<(String, i64)> = Vec::new();
        let mut expired = Vec::new();
        if let Some(digest) = &current {
            cuts.push((digest.clone(), previous_valid_until));
        }
        for key in &keys {
            if current.as_ref() == Some(&key.digest) {
                continue;
            }
            match key.after_rotation(previous_valid_until, now) {
                AfterRotation::ValidUntil(until) => cuts.push((key.digest.clone(), until)),
                AfterRotation::Remove => expired.push(key.digest.clone()),
                AfterRotation::Keep => {}
            }
        }

        let mut writes = vec![self.exists_check(pk.clone(), crate::adapters::dynamodb::keys::META.into())?];
        // The head names the current key; moving it on the condition that it still names what
        // we saw makes a concurrent rotation fail instead of leaving two current keys.
        let head_put = Put::builder().table_name(&self.table).set_item(Some(Self::head_item(
            &new.integration_id,
            &scope,
            &new.digest,
        )));
        let head_put = match &current {
            Some(current) => head_put
                .condition_expression("current_digest = :seen")
                .expression_attribute_values(":seen", s(current.clone())),
            None => head_put.condition_expression("attribute_not_exists(pk)"),
        };
        writes.push(
            TransactWriteItem::builder()
                .put(head_put.build().map_err(|e| StoreError::Unavailable(e.to_string()))?)
                .build(),
        );
        writes.push(self.put(Self::webhook_key_item(new)?, Some("attribute_not_exists(pk)"))?);
        // A transaction holds at most 100 writes: the cuts that do not fit follow it.
        let later = cuts.split_off(cuts.len().min(KEY_CUTS_IN_TRANSACTION));
        for (digest, until) in &cuts {
            writes.push(self.cut_key(&pk, &scope, digest, *until)?);
        }
        if self.transact(writes).await?.is_err() {
            return Err(StoreError::Conflict);
        }
        for (digest, until) in later {
            self.cut_key_after(&pk, &scope, &digest, until).await?;
        }
        // Expired keys stop working by their own date; removing them is housekeeping, apart
        // from the rotation (DynamoDB's TTL removes any left).
        let deletes = expired
            .iter()
            .map(|digest| delete_request(pk.clone(), webhook_key_sk(&scope, digest)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Err(err) = self.batch_write(deletes).await {
            tracing::warn!(error = %err, "expired webhook keys were left for DynamoDB's TTL to remove");
        }
        Ok(())
    }

    async fn set_signature_requirement(
        &self,
        integration_id: &IntegrationId,
        required: bool,
    ) -> Result<(), StoreError> {
        let pk = integration_pk(integration_id);
        // A handful of keys (the integration's and one per registered repository), set one by one;
        // a key removed meanwhile is skipped.
        for item in self.query_prefix(&pk, WEBHOOK_KEY_ITEMS).await? {
            let Some(AttributeValue::S(sk)) = item.get("sk") else {
                continue;
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(sk.clone()))
                .update_expression("SET require_signature = :required")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":required", AttributeValue::Bool(required))
                .send()
                .await;
            condition_held(result)?;
        }
        Ok(())
    }

    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, StoreError> {
        self.put_delivery_once(delivery, trigger).await
    }

    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::log_entry_item(delivery)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        self.delivery_log_page(integration_id, limit, cursor).await
    }
}

impl DynamoStore {
    /// The keys of one scope of an integration ([`WebhookKey::scope`]).
    async fn keys_in_scope(&self, integration_id: &IntegrationId, scope: &str) -> Result<Vec<WebhookKey>, StoreError> {
        let prefix = webhook_key_prefix(scope);
        self.query_prefix(&integration_pk(integration_id), &prefix)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }
}
