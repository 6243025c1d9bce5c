//! The integration store on DynamoDB: integrations, installations and the token-refresh lease.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::dynamodb::keys::{
    INSTALLATION_PREFIX, INTEGRATIONS, META, WEBHOOK_HEAD_ITEMS, WEBHOOK_KEY_ITEMS, installation_sk, integration_pk,
};
use crate::adapters::dynamodb::{
    DynamoStore, Item, condition_held, conflict_unless_held, delete_request, from_item, number, s, to_item, unavailable,
};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{Installation, IntegrationRecord};
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{IntegrationStore, RefreshOutcome, StoreError};

impl DynamoStore {
    pub(super) fn integration_item(record: &IntegrationRecord) -> Result<Item, StoreError> {
        to_item(
            record,
            &[
                ("pk", integration_pk(&record.id)),
                ("sk", META.into()),
                ("gsi1pk", INTEGRATIONS.into()),
                ("gsi1sk", record.id.to_string()),
            ],
        )
    }

    fn installation_item(installation: &Installation) -> Result<Item, StoreError> {
        to_item(
            installation,
            &[
                ("pk", integration_pk(&installation.integration_id)),
                ("sk", installation_sk(&installation.id)),
            ],
        )
    }
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(
        &self,
        record: &IntegrationRecord,
        installation: Option<&Installation>,
        webhook_key: Option<&WebhookKey>,
    ) -> Result<(), StoreError> {
        let absent = Some("attribute_not_exists(pk)");
        let mut writes = vec![self.put(Self::integration_item(record)?, absent)?];
        if let Some(inst) = installation {
            writes.push(self.put(Self::installation_item(inst)?, absent)?);
        }
        if let Some(key) = webhook_key {
            writes.push(self.put(Self::webhook_key_item(key)?, absent)?);
            writes.push(self.put(Self::head_item(&record.id, &key.scope(), &key.digest), absent)?);
        }
        match self.transact(writes).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(id)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(from_item).transpose()
    }

    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.query_gsi1(INTEGRATIONS)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError> {
        let next = IntegrationRecord {
            record_version: record.record_version + 1,
            ..record.clone()
        };
        // Records written before versions existed carry none: version 0 matches them too.
        let condition = if record.record_version == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(record_version) OR record_version = :read)"
        } else {
            "record_version = :read"
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::integration_item(&next)?))
            .condition_expression(condition)
            .expression_attribute_values(":read", number(record.record_version as i64))
            .send()
            .await;
        conflict_unless_held(condition_held(result)?)
    }

    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::installation_item(installation)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_installations(&self, integration_id: &IntegrationId) -> Result<Vec<Installation>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), INSTALLATION_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let pk = integration_pk(id);
        let mut keys = self.query_prefix(&pk, WEBHOOK_KEY_ITEMS).await?;
        keys.extend(self.query_prefix(&pk, WEBHOOK_HEAD_ITEMS).await?);
        let requests = keys
            .iter()
            .filter_map(|item| match item.get("sk") {
                Some(AttributeValue::S(sk)) => Some(delete_request(pk.clone(), sk.clone())),
                _ => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await?;
        self.delete_integration_triggers(id).await
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError> {
        let pk = integration_pk(id);
        let items = self.query_prefix(&pk, "").await?;
        let mut children = Vec::new();
        let mut has_meta = false;
        for item in items {
            let Some(AttributeValue::S(sk)) = item.get("sk") else {
                continue;
            };
            if sk == META {
                has_meta = true;
            } else {
                children.push(delete_request(pk.clone(), sk.clone())?);
            }
        }
        self.batch_write(children).await?;
        self.delete_integration_triggers(id).await?;
        if has_meta {
            self.batch_write(vec![delete_request(pk, META.into())?]).await?;
        }
        Ok(())
    }

    async fn delete_integration_page(&self, id: &IntegrationId, page: usize) -> Result<bool, StoreError> {
        let pk = integration_pk(id);
        let children = self.child_keys_page(&pk, page).await?;
        if children.is_empty() {
            self.delete_integration_triggers(id).await?;
            self.batch_write(vec![delete_request(pk, META.into())?]).await?;
            return Ok(true);
        }
        let requests = children
            .into_iter()
            .map(|sk| delete_request(pk.clone(), sk))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await?;
        Ok(false)
    }

    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(id)))
            .key("sk", s(META))
            .update_expression("SET refresh_lease_until = :until, refresh_lease_owner = :owner ADD record_version :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(refresh_lease_until) OR refresh_lease_until < :now)",
            )
            .expression_attribute_values(":until", number(until))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        condition_held(result)
    }

    async fn complete_refresh(
        &self,
        id: &IntegrationId,
        owner: &str,
        outcome: Option<&RefreshOutcome>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(id)))
            .key("sk", s(META))
            .condition_expression("refresh_lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner));
        let mut remove = vec!["refresh_lease_until", "refresh_lease_owner"];
        let mut expression = String::new();
        if let Some(outcome) = outcome {
            let status = serde_json::to_value(outcome.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            expression.push_str("SET #status = :status, credentials_version = :credentials, updated_at = :updated");
            update = update
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status))
                .expression_attribute_values(":credentials", number(outcome.credentials_version as i64))
                .expression_attribute_values(":updated", number(outcome.updated_at))
                .expression_attribute_values(":one", number(1));
            match outcome.token_expires_at {
                Some(at) => {
                    expression.push_str(", token_expires_at = :expires");
                    update = update.expression_attribute_values(":expires", number(at));
                }
                None => remove.push("token_expires_at"),
            }
            expression.push_str(" ADD record_version :one");
        }
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        let result = update.update_expression(expression.trim_start()).send().await;
        conflict_unless_held(condition_held(result)?)
    }
}
