//! The DynamoDB store: one table, keys chosen so every request is a key lookup or a query.
//!
//! Access patterns (table `pk`/`sk`, index `gsi1` on `gsi1pk`/`gsi1sk`, projection ALL):
//!
//! | item          | pk                  | sk                      | gsi1pk               | gsi1sk     |
//! |---------------|---------------------|-------------------------|----------------------|------------|
//! | integration   | `INTEGRATION#{id}`  | `META`                  | `INTEGRATIONS`       | `{id}`     |
//! | installation  | `INTEGRATION#{id}`  | `INSTALLATION#{inst}`   | –                    | –          |
//! | repository    | `INTEGRATION#{id}`  | `REPOSITORY#{project}`  | `REPOSITORY#{repo}`  | `REPOSITORY` |
//!
//! - get an integration: GetItem; list integrations: Query gsi1 `INTEGRATIONS` (one partition:
//!   integrations number in the dozens, not millions);
//! - an integration's installations or repositories: Query pk with `begins_with(sk, …)`;
//! - a repository by id (avatar, webhook secret): Query gsi1 `REPOSITORY#{repo}`;
//! - delete: Query pk for every key, BatchWrite deletes, the `META` item last so a delete that
//!   fails half-way is still visible and can be repeated.
//!
//! Bodies are mapped with serde_dynamo; the key attributes are added beside them.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::ports::{IntegrationStore, RepositoryStore, StoreError};

type Item = HashMap<String, AttributeValue>;

const KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];
const GSI1: &str = "gsi1";
/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;

/// The store over one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn integration_pk(id: &str) -> String {
    format!("INTEGRATION#{id}")
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(err: SdkError<E, R>) -> StoreError
where
    E: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

fn to_item<T: Serialize>(body: &T, keys: &[(&str, String)]) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(body).map_err(|e| StoreError::Unavailable(format!("encoding an item: {e}")))?;
    for (name, value) in keys {
        item.insert((*name).to_string(), AttributeValue::S(value.clone()));
    }
    Ok(item)
}

fn from_item<T: DeserializeOwned>(mut item: Item) -> Result<T, StoreError> {
    for key in KEY_ATTRIBUTES {
        item.remove(key);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Unavailable(format!("decoding an item: {e}")))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    fn integration_item(record: &IntegrationRecord) -> Result<Item, StoreError> {
        to_item(record, &[
            ("pk", integration_pk(&record.id)),
            ("sk", "META".into()),
            ("gsi1pk", "INTEGRATIONS".into()),
            ("gsi1sk", record.id.clone()),
        ])
    }

    fn installation_item(installation: &Installation) -> Result<Item, StoreError> {
        to_item(installation, &[
            ("pk", integration_pk(&installation.integration_id)),
            ("sk", format!("INSTALLATION#{}", installation.id)),
        ])
    }

    fn repository_item(repo: &Repository) -> Result<Item, StoreError> {
        to_item(repo, &[
            ("pk", integration_pk(&repo.integration_id)),
            ("sk", format!("REPOSITORY#{}", repo.external_id)),
            ("gsi1pk", format!("REPOSITORY#{}", repo.id)),
            ("gsi1sk", "REPOSITORY".into()),
        ])
    }

    /// Every item of a partition whose sort key starts with `prefix` (all of them for an empty
    /// prefix: DynamoDB refuses an empty key value), following pages.
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let query = self.client.query().table_name(&self.table).expression_attribute_values(":pk", s(pk));
        let query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)").expression_attribute_values(":prefix", s(prefix))
        };
        query
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    async fn query_gsi1(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)
    }

    /// Runs BatchWriteItem in chunks, resending what DynamoDB left unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = chunk.to_vec();
            for attempt in 0u32.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(unavailable)?;
                pending = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt >= 8 {
                    return Err(StoreError::Unavailable("DynamoDB kept items unprocessed after retries".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
            }
        }
        Ok(())
    }
}

fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

fn delete_request(pk: String, sk: String) -> Result<WriteRequest, StoreError> {
    let delete = DeleteRequest::builder()
        .key("pk", s(pk))
        .key("sk", s(sk))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, record: &IntegrationRecord, installation: Option<&Installation>) -> Result<(), StoreError> {
        let put = |item: Item, condition: &str| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut writes = vec![put(Self::integration_item(record)?, "attribute_not_exists(pk)")?];
        if let Some(inst) = installation {
            writes.push(put(Self::installation_item(inst)?, "attribute_not_exists(pk)")?);
        }
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => Err(StoreError::Conflict),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get_integration(&self, id: &str) -> Result<Option<IntegrationRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(id)))
            .key("sk", s("META"))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(from_item).transpose()
    }

    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.query_gsi1("INTEGRATIONS").await?.into_iter().map(from_item).collect()
    }

    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::integration_item(record)?))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Err(StoreError::Conflict),
            Err(err) => Err(unavailable(err)),
        }
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

    async fn list_installations(&self, integration_id: &str) -> Result<Vec<Installation>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), "INSTALLATION#").await?.into_iter().map(from_item).collect()
    }

    async fn delete_integration(&self, id: &str) -> Result<(), StoreError> {
        let pk = integration_pk(id);
        let items = self.query_prefix(&pk, "").await?;
        let mut children = Vec::new();
        let mut has_meta = false;
        for item in items {
            let Some(AttributeValue::S(sk)) = item.get("sk") else { continue };
            if sk == "META" {
                has_meta = true;
            } else {
                children.push(delete_request(pk.clone(), sk.clone())?);
            }
        }
        self.batch_write(children).await?;
        if has_meta {
            self.batch_write(vec![delete_request(pk, "META".into())?]).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl RepositoryStore for DynamoStore {
    async fn list_repositories(&self, integration_id: &str) -> Result<Vec<Repository>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), "REPOSITORY#").await?.into_iter().map(from_item).collect()
    }

    async fn get_repository(&self, repository_id: &str) -> Result<Option<Repository>, StoreError> {
        let items = self.query_gsi1(&format!("REPOSITORY#{repository_id}")).await?;
        items.into_iter().next().map(from_item).transpose()
    }

    async fn write_repositories(&self, integration_id: &str, upserts: &[Repository], removals: &[Repository]) -> Result<(), StoreError> {
        let pk = integration_pk(integration_id);
        let mut requests = Vec::with_capacity(upserts.len() + removals.len());
        for repo in upserts {
            requests.push(put_request(Self::repository_item(repo)?)?);
        }
        for repo in removals {
            requests.push(delete_request(pk.clone(), format!("REPOSITORY#{}", repo.external_id))?);
        }
        self.batch_write(requests).await
    }
}
