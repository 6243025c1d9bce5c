//! The DynamoDB store: one table, keys chosen so every request is a key lookup or a query.
//!
//! Access patterns (table `pk`/`sk`, index `gsi1` on `gsi1pk`/`gsi1sk`, projection ALL):
//!
//! | item          | pk                  | sk                      | gsi1pk               | gsi1sk     |
//! |---------------|---------------------|-------------------------|----------------------|------------|
//! | integration   | `INTEGRATION#{id}`  | `META`                  | `INTEGRATIONS`       | `{id}`     |
//! | installation  | `INTEGRATION#{id}`  | `INSTALLATION#{inst}`   | –                    | –          |
//! | repository    | `INTEGRATION#{id}`  | `REPOSITORY#{project}`  | `REPOSITORY#{repo}`  | `REPOSITORY` |
//! | webhook key   | `INTEGRATION#{id}`  | `WEBHOOK_KEY#{scope}#{digest}` | `WEBHOOK_KEY#{digest}` | `WEBHOOK_KEY` |
//! | key head      | `INTEGRATION#{id}`  | `WEBHOOK_HEAD#{scope}`  | –                    | –          |
//! | dedupe marker | `INTEGRATION#{id}`  | `DEDUPE#{sha256(key)}`  | –                    | –          |
//! | delivery log  | `INTEGRATION#{id}`  | `DELIVERY#{time}#{entry}` | –                  | –          |
//! | build trigger | `INTEGRATION#{id}`  | `TRIGGER#{time}#{trigger}` | –                 | –          |
//! | OAuth state   | `OAUTH_STATE#{digest}` | `META`               | –                    | –          |
//!
//! Superseded webhook keys, dedupe markers and log entries carry a `ttl` attribute (Unix
//! seconds) so DynamoDB drops them; readers still check the times themselves, since TTL
//! deletion lags. Build triggers have no TTL: the table's stream hands them to a build system.
//!
//! - get an integration: GetItem; list integrations: Query gsi1 `INTEGRATIONS` (one partition:
//!   integrations number in the dozens, not millions);
//! - an integration's installations or repositories: Query pk with `begins_with(sk, …)`;
//! - a repository by id (avatar, webhook secret): Query gsi1 `REPOSITORY#{repo}`;
//! - the key of a webhook delivery's secret: Query gsi1 `WEBHOOK_KEY#{digest}`; recording the
//!   delivery is one TransactWriteItems (dedupe marker with a condition, log entry, trigger,
//!   a check that the repository is stored), so a warm delivery costs two calls;
//! - rotation: one transaction that moves the scope's head item (conditioned on the current
//!   key it saw), so two rotations racing cannot both leave a current key;
//! - the delivery log: Query pk `DELIVERY#` newest first, paged by the sort key;
//! - the token-refresh lease: a conditional UpdateItem on the integration's `META` item;
//!   completing a refresh is a PutItem conditioned on still holding it;
//! - an OAuth state is taken with one conditional DeleteItem returning the old item, so it is
//!   used at most once; its `ttl` removes the unused ones;
//! - delete: Query pk for every key, BatchWrite deletes, the `META` item last so a delete that
//!   fails half-way is still visible and can be repeated.
//!
//! Bodies are mapped with serde_dynamo; the key attributes are added beside them.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, PutRequest, TransactWriteItem, Update, WriteRequest};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use sha2::{Digest, Sha256};

use crate::domain::delivery::{BuildTrigger, DeliveryRecord};
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::oauth::PendingAuthorization;
use crate::domain::webhook_keys::{scope_of, WebhookKey};
use crate::ports::{IntegrationStore, OAuthStateStore, Recorded, RepositoryStore, StoreError, WebhookStore};

type Item = HashMap<String, AttributeValue>;

const KEY_ATTRIBUTES: [&str; 5] = ["pk", "sk", "gsi1pk", "gsi1sk", "ttl"];
/// The table's TTL attribute.
const TTL: &str = "ttl";
/// How often a delivery's transaction is retried when it collides with a concurrent one.
const TRANSACTION_RETRIES: u32 = 6;
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

/// A conditional write's outcome: `Ok(true)` written, `Ok(false)` its condition did not hold.
fn condition_held<O, E>(result: Result<O, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(err) => Err(unavailable(err)),
    }
}

/// A write that must find its condition true: `Conflict` otherwise.
fn conflict_unless_held(held: bool) -> Result<(), StoreError> {
    if held { Ok(()) } else { Err(StoreError::Conflict) }
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

    fn webhook_key_item(key: &WebhookKey) -> Result<Item, StoreError> {
        let mut item = to_item(key, &[
            ("pk", integration_pk(&key.integration_id)),
            ("sk", format!("WEBHOOK_KEY#{}#{}", key.scope(), key.digest)),
            ("gsi1pk", format!("WEBHOOK_KEY#{}", key.digest)),
            ("gsi1sk", "WEBHOOK_KEY".into()),
        ])?;
        if let Some(until) = key.valid_until {
            item.insert(TTL.into(), AttributeValue::N(until.to_string()));
        }
        Ok(item)
    }

    fn head_item(integration_id: &str, scope: &str, current: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), s(integration_pk(integration_id))),
            ("sk".to_string(), s(format!("WEBHOOK_HEAD#{scope}"))),
            ("current_digest".to_string(), s(current)),
        ])
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn exists_check(&self, pk: String, sk: String) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self.client.get_item().table_name(&self.table).key("pk", s(pk)).key("sk", s(sk)).consistent_read(true).send().await.map_err(unavailable)?;
        Ok(out.item)
    }

    /// Runs a transaction; a cancellation comes back as the cancellation reason codes.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<Result<(), Vec<String>>, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e)) => {
                    Ok(Err(e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_string()).collect()))
                }
                _ => Err(unavailable(err)),
            },
        }
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
    async fn create_integration(&self, record: &IntegrationRecord, installation: Option<&Installation>, webhook_key: Option<&WebhookKey>) -> Result<(), StoreError> {
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

    async fn acquire_refresh_lease(&self, id: &str, owner: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(integration_pk(id)))
            .key("sk", s("META"))
            .update_expression("SET refresh_lease_until = :until, refresh_lease_owner = :owner")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(refresh_lease_until) OR refresh_lease_until < :now)")
            .expression_attribute_values(":until", number(until))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", number(now))
            .send()
            .await;
        condition_held(result)
    }

    async fn complete_refresh(&self, record: &IntegrationRecord, owner: &str) -> Result<(), StoreError> {
        let released = IntegrationRecord { refresh_lease_until: None, refresh_lease_owner: None, ..record.clone() };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::integration_item(&released)?))
            .condition_expression("refresh_lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        conflict_unless_held(condition_held(result)?)
    }
}

fn oauth_state_pk(digest: &str) -> String {
    format!("OAUTH_STATE#{digest}")
}

#[async_trait]
impl OAuthStateStore for DynamoStore {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let mut item = to_item(pending, &[("pk", oauth_state_pk(&pending.state_digest)), ("sk", "META".into())])?;
        item.insert(TTL.into(), AttributeValue::N(pending.expires_at.to_string()));
        let result = self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(pk)").send().await;
        conflict_unless_held(condition_held(result)?)
    }

    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(oauth_state_pk(state_digest)))
            .key("sk", s("META"))
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            // Nothing to take: unknown, expired and removed, or taken by another request.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
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

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoStore {
    fn delivery_item(delivery: &DeliveryRecord) -> Result<Item, StoreError> {
        let mut item = to_item(delivery, &[("pk", integration_pk(&delivery.integration_id)), ("sk", format!("DELIVERY#{}", delivery.sort_key()))])?;
        item.insert(TTL.into(), number(delivery.expires_at));
        Ok(item)
    }

    fn dedupe_item(delivery: &DeliveryRecord) -> Item {
        HashMap::from([
            ("pk".to_string(), s(integration_pk(&delivery.integration_id))),
            ("sk".to_string(), s(format!("DEDUPE#{}", sha256_hex(&delivery.delivery_key)))),
            ("entry".to_string(), s(delivery.sort_key())),
            (TTL.to_string(), number(delivery.expires_at)),
        ])
    }

    fn trigger_item(trigger: &BuildTrigger) -> Result<Item, StoreError> {
        to_item(trigger, &[("pk", integration_pk(&trigger.integration_id)), ("sk", format!("TRIGGER#{:011}#{}", trigger.created_at.max(0), trigger.id))])
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError> {
        let items = self.query_gsi1(&format!("WEBHOOK_KEY#{digest}")).await?;
        items.into_iter().next().map(from_item).transpose()
    }

    async fn webhook_keys(&self, integration_id: &str, project_id: Option<&str>) -> Result<Vec<WebhookKey>, StoreError> {
        let prefix = format!("WEBHOOK_KEY#{}#", scope_of(project_id));
        self.query_prefix(&integration_pk(integration_id), &prefix).await?.into_iter().map(from_item).collect()
    }

    async fn rotate_webhook_key(&self, new: &WebhookKey, previous_valid_until: i64, now: i64) -> Result<(), StoreError> {
        let pk = integration_pk(&new.integration_id);
        let scope = new.scope();
        let head = self.get(pk.clone(), format!("WEBHOOK_HEAD#{scope}")).await?;
        let keys = self.webhook_keys(&new.integration_id, new.project_id.as_deref()).await?;

        let mut writes = vec![self.exists_check(pk.clone(), "META".into())?];
        // The head names the current key; moving it on the condition that it still names what
        // we saw makes a concurrent rotation fail instead of leaving two current keys.
        let head_put = Put::builder().table_name(&self.table).set_item(Some(Self::head_item(&new.integration_id, &scope, &new.digest)));
        let head_put = match head.as_ref().and_then(|h| h.get("current_digest")).cloned() {
            Some(current) => head_put.condition_expression("current_digest = :seen").expression_attribute_values(":seen", current),
            None => head_put.condition_expression("attribute_not_exists(pk)"),
        };
        writes.push(TransactWriteItem::builder().put(head_put.build().map_err(|e| StoreError::Unavailable(e.to_string()))?).build());
        // A transaction holds at most 100 writes; expired keys left over go on the next rotation.
        for key in keys.iter().take(90) {
            let sk = format!("WEBHOOK_KEY#{scope}#{}", key.digest);
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
                    let delete = Delete::builder().table_name(&self.table).key("pk", s(pk.clone())).key("sk", s(sk)).build().map_err(|e| StoreError::Unavailable(e.to_string()))?;
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

    async fn record_delivery(&self, delivery: &DeliveryRecord, trigger: Option<&BuildTrigger>, repository: Option<&str>) -> Result<Recorded, StoreError> {
        let mut writes = vec![
            self.put(Self::dedupe_item(delivery), Some("attribute_not_exists(pk)"))?,
            self.put(Self::delivery_item(delivery)?, None)?,
        ];
        if let Some(trigger) = trigger {
            writes.push(self.put(Self::trigger_item(trigger)?, None)?);
        }
        if let Some(project) = repository {
            writes.push(self.exists_check(integration_pk(&delivery.integration_id), format!("REPOSITORY#{project}"))?);
        }
        for attempt in 0..=TRANSACTION_RETRIES {
            let reasons = match self.transact(writes.clone()).await? {
                Ok(()) => return Ok(Recorded::New),
                Err(reasons) => reasons,
            };
            let failed = |index: usize| reasons.get(index).is_some_and(|code| code == "ConditionalCheckFailed");
            if failed(0) {
                return Ok(Recorded::Duplicate);
            }
            if repository.is_some() && failed(writes.len() - 1) {
                return Ok(Recorded::RepositoryMissing);
            }
            // Reasons missing or a TransactionConflict with a concurrent copy: look at what the
            // other writer left, then try again.
            let dedupe_sk = format!("DEDUPE#{}", sha256_hex(&delivery.delivery_key));
            if self.get(integration_pk(&delivery.integration_id), dedupe_sk).await?.is_some() {
                return Ok(Recorded::Duplicate);
            }
            if let Some(project) = repository {
                if self.get(integration_pk(&delivery.integration_id), format!("REPOSITORY#{project}")).await?.is_none() {
                    return Ok(Recorded::RepositoryMissing);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(4))).await;
        }
        Err(StoreError::Unavailable("the delivery's transaction kept colliding with concurrent writes".into()))
    }

    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        self.client.put_item().table_name(&self.table).set_item(Some(Self::delivery_item(delivery)?)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn list_deliveries(&self, integration_id: &str, limit: usize, cursor: Option<&str>) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
        let pk = integration_pk(integration_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s("DELIVERY#"))
            .scan_index_forward(false)
            // One more than asked, to know whether another page exists.
            .limit(limit as i32 + 1);
        if let Some(cursor) = cursor {
            query = query.exclusive_start_key("pk", s(pk)).exclusive_start_key("sk", s(format!("DELIVERY#{cursor}")));
        }
        let out = query.send().await.map_err(unavailable)?;
        let mut page: Vec<DeliveryRecord> = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_, _>>()?;
        let more = page.len() > limit;
        page.truncate(limit);
        let next = if more { page.last().map(DeliveryRecord::sort_key) } else { None };
        Ok((page, next))
    }

    async fn list_triggers(&self, integration_id: &str) -> Result<Vec<BuildTrigger>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), "TRIGGER#").await?.into_iter().map(from_item).collect()
    }
}
