//! The hook store on DynamoDB: one `HOOK#{project}` item per project under the integration,
//! written field by field (registration, health, last delivery) so no writer undoes another;
//! one `GROUPHOOK#{group}` item per group hook, written whole but for its delivery note.

use async_trait::async_trait;

use crate::adapters::dynamodb::keys::{GROUP_HOOK_PREFIX, HOOK_PREFIX, group_hook_sk, hook_sk, integration_pk};
use crate::adapters::dynamodb::{DynamoStore, Item, condition_held, from_item, number, s, to_item, unavailable};
use crate::domain::group_hooks::GroupHookRecord;
use crate::domain::hooks::{HookHealth, HookRecord};
use crate::domain::ids::{IntegrationId, ProjectId};
use crate::ports::{HookStore, StoreError};

fn registered(items: Vec<Item>) -> Result<Vec<HookRecord>, StoreError> {
    let records: Vec<HookRecord> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok(records.into_iter().filter(|r| r.hook_id.is_some()).collect())
}

impl DynamoStore {
    /// A hook record read eventually consistently (half a read unit): a delivery reads it only
    /// to decide whether the hour's note is due.
    async fn hook_item(&self, integration_id: &IntegrationId, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Notes a delivery's time on a hook record (`sk`), if it is one of a hook we registered;
    /// nothing otherwise.
    async fn note_last_delivery(&self, integration_id: &IntegrationId, sk: String, at: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(sk))
            .update_expression("SET last_delivery_at = :at")
            .condition_expression("attribute_exists(hook_id)")
            .expression_attribute_values(":at", number(at))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }
}

#[async_trait]
impl HookStore for DynamoStore {
    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(hook_sk(project_id)))
            .update_expression("SET project_id = :project, hook_id = :hook")
            .expression_attribute_values(":project", s(project_id.to_string()))
            .expression_attribute_values(":hook", number(hook_id as i64))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn set_hook_health(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        health: &HookHealth,
    ) -> Result<(), StoreError> {
        let mut set = vec!["checked_at = :checked"];
        let mut remove = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(hook_sk(project_id)))
            .condition_expression("attribute_exists(hook_id)")
            .expression_attribute_values(":checked", number(health.checked_at));
        match &health.alert_status {
            Some(status) => {
                set.push("alert_status = :status");
                update = update.expression_attribute_values(":status", s(status.clone()));
            }
            None => remove.push("alert_status"),
        }
        match &health.disabled_until {
            Some(until) => {
                set.push("disabled_until = :until");
                update = update.expression_attribute_values(":until", s(until.clone()));
            }
            None => remove.push("disabled_until"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        // A record removed meanwhile (the repository vanished) is not brought back.
        condition_held(update.update_expression(expression).send().await)?;
        Ok(())
    }

    async fn remove_hook(&self, integration_id: &IntegrationId, project_id: ProjectId) -> Result<(), StoreError> {
        // Only what the registration brought: the time of the last delivery stays. A record
        // that is gone stays gone.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(hook_sk(project_id)))
            .update_expression("REMOVE hook_id, alert_status, disabled_until, checked_at")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        condition_held(result)?;
        Ok(())
    }

    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<HookRecord>, StoreError> {
        registered(self.query_prefix(&integration_pk(integration_id), HOOK_PREFIX).await?)
    }

    async fn note_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        at: i64,
    ) -> Result<(), StoreError> {
        self.note_last_delivery(integration_id, hook_sk(project_id), at).await
    }

    async fn hook_for_delivery(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
    ) -> Result<Option<HookRecord>, StoreError> {
        let item = self.hook_item(integration_id, hook_sk(project_id)).await?;
        Ok(registered(item.into_iter().collect())?.into_iter().next())
    }

    async fn get_hooks(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<HookRecord>, StoreError> {
        let pk = integration_pk(integration_id);
        let keys = projects.iter().map(|p| (pk.clone(), hook_sk(*p))).collect();
        registered(self.batch_get(keys).await?)
    }

    async fn put_group_hook(&self, integration_id: &IntegrationId, hook: &GroupHookRecord) -> Result<(), StoreError> {
        let item = to_item(
            hook,
            &[
                ("pk", integration_pk(integration_id)),
                ("sk", group_hook_sk(hook.group_id)),
            ],
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn group_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<GroupHookRecord>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), GROUP_HOOK_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn group_hook(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
    ) -> Result<Option<GroupHookRecord>, StoreError> {
        let item = self.hook_item(integration_id, group_hook_sk(group_id)).await?;
        item.map(from_item).transpose()
    }

    async fn note_group_delivery(
        &self,
        integration_id: &IntegrationId,
        group_id: u64,
        at: i64,
    ) -> Result<(), StoreError> {
        self.note_last_delivery(integration_id, group_hook_sk(group_id), at)
            .await
    }

    async fn remove_group_hook(&self, integration_id: &IntegrationId, group_id: u64) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(integration_id)))
            .key("sk", s(group_hook_sk(group_id)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
