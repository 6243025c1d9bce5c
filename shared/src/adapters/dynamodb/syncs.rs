//! The sync store on DynamoDB: one record per integration (`sk` `SYNC`), written only on the
//! condition that it is still the version read.

use async_trait::async_trait;

use crate::adapters::dynamodb::keys::{SYNC, integration_pk};
use crate::adapters::dynamodb::{DynamoStore, TTL, condition_held, conflict_unless_held, from_item, number, to_item};
use crate::domain::ids::IntegrationId;
use crate::domain::sync::SyncRecord;
use crate::ports::{StoreError, SyncStore};

#[async_trait]
impl SyncStore for DynamoStore {
    async fn get_sync(&self, integration_id: &IntegrationId) -> Result<Option<SyncRecord>, StoreError> {
        self.get(integration_pk(integration_id), SYNC.into())
            .await?
            .map(from_item)
            .transpose()
    }

    async fn put_sync(&self, record: &SyncRecord) -> Result<(), StoreError> {
        let mut item = to_item(
            record,
            &[("pk", integration_pk(&record.integration_id)), ("sk", SYNC.into())],
        )?;
        if let Some(at) = record.expires_at() {
            item.insert(TTL.into(), number(at));
        }
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let put = match record.version {
            0 | 1 => put.condition_expression("attribute_not_exists(pk)"),
            version => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", number(version as i64 - 1)),
        };
        conflict_unless_held(condition_held(put.send().await)?)
    }
}
