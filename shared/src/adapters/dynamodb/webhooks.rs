//! The webhook store on DynamoDB: webhook keys and their rotation; the delivery log is in
//! `deliveries.rs`, the rest of the trigger queue in `triggers.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::adapters::dynamodb::keys::{
    WEBHOOK_KEY_GSI1SK, WEBHOOK_KEY_ITEMS, integration_pk, webhook_head_sk, webhook_key_gsi1pk, webhook_key_prefix,
    webhook_key_sk,
};
use crate::adapters::dynamodb::{DynamoStore, Item, TTL, condition_held, from_item, number, s, to_item, unavailable};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::{WebhookKey, scope_of};
use crate::ports::{Recorded, StoreError, WebhookStore};

impl DynamoStore {
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
        let prefix = webhook_key_prefix(&scope_of(project_id));
        self.query_prefix(&integration_pk(integration_id), &prefix)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
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
        let keys = self.webhook_keys(&new.integration_id, new.project_id).await?;

        let mut writes = vec![self.exists_check(pk.clone(), crate::adapters::dynamodb::keys::META.into())?];
        // The head names the current key; moving it on the condition that it still names what
        // we saw makes a concurrent rotation fail instead of leaving two current keys.
        let head_put = Put::builder().table_name(&self.table).set_item(Some(Self::head_item(
            &new.integration_id,
            &scope,
            &new.digest,
        )));
        let head_put = match head.as_ref().and_then(|h| h.get("current_digest")).cloned() {
            Some(current) => head_put
                .condition_expression("current_digest = :seen")
                .expression_attribute_values(":seen", current),
            None => head_put.condition_expression("attribute_not_exists(pk)"),
        };
        writes.push(
            TransactWriteItem::builder()
                .put(head_put.build().map_err(|e| StoreError::Unavailable(e.to_string()))?)
                .build(),
        );
        // A transaction holds at most 100 writes; expired keys left over go on the next rotation.
        for key in keys.iter().take(90) {
            let sk = webhook_key_sk(&scope, &key.digest);
            match key.valid_until {
                None => {
                    let update = Update::builder()
                        .table_name(&self.table)
                        .key("pk", s(pk.clone()))
                        .key("sk", s(sk))
                        .update_expression("SET valid_until = :until, #ttl = :until")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_names("#ttl", TTL)
                        .expression_attribute_values(":until", number(previous_valid_until))
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    writes.push(TransactWriteItem::builder().update(update).build());
                }
                Some(until) if until <= now => {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(pk.clone()))
                        .key("sk", s(sk))
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    writes.push(TransactWriteItem::builder().delete(delete).build());
                }
                Some(_) => {}
            }
        }
        writes.push(self.put(Self::webhook_key_item(new)?, Some("attribute_not_exists(pk)"))?);
        match self.transact(writes).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict),
        }
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
