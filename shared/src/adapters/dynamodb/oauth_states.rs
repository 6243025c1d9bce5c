//! The OAuth state store on DynamoDB: single-use pending authorizations with a TTL.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::dynamodb::keys::{META, oauth_state_pk};
use crate::adapters::dynamodb::{
    DynamoStore, TTL, condition_held, conflict_unless_held, from_item, s, to_item, unavailable,
};
use crate::domain::oauth::PendingAuthorization;
use crate::ports::{OAuthStateStore, StoreError};

#[async_trait]
impl OAuthStateStore for DynamoStore {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let mut item = to_item(
            pending,
            &[("pk", oauth_state_pk(&pending.state_digest)), ("sk", META.into())],
        )?;
        item.insert(TTL.into(), AttributeValue::N(pending.expires_at.to_string()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conflict_unless_held(condition_held(result)?)
    }

    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(oauth_state_pk(state_digest)))
            .key("sk", s(META))
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            // Nothing to take: unknown, expired and removed, or taken by another request.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}
