//! The DynamoDB store: one table, keys chosen so every request is a key lookup or a query.
//!
//! Access patterns (table `pk`/`sk`; indexes `gsi1` on `gsi1pk`/`gsi1sk` and `gsi2` on
//! `gsi2pk`/`gsi2sk`, both projecting every attribute):
//!
//! | item          | pk                  | sk                      | gsi1pk / gsi1sk      | gsi2pk / gsi2sk |
//! |---------------|---------------------|-------------------------|----------------------|-----------------|
//! | integration   | `INTEGRATION#{id}`  | `META`                  | `INTEGRATIONS` / `{id}` | – |
//! | installation  | `INTEGRATION#{id}`  | `INSTALLATION#{inst}`   | –                    | – |
//! | repository    | `INTEGRATION#{id}`  | `REPOSITORY#{project}`  | `REPOSITORY#{repo}` / `REPOSITORY` | – |
//! | webhook key   | `INTEGRATION#{id}`  | `WEBHOOK_KEY#{scope}#{digest}` | `WEBHOOK_KEY#{digest}` / `WEBHOOK_KEY` | – |
//! | key head      | `INTEGRATION#{id}`  | `WEBHOOK_HEAD#{scope}`  | –                    | – |
//! | delivery that built nothing (its dedupe marker and log entry) | `INTEGRATION#{id}` | `DEDUPE#{sha256(key)}` | – | `DELIVERIES#{id}` / `{time}#{entry}` |
//! | duplicate or refusal (log entry only) | `INTEGRATION#{id}` | `DELIVERY#{time}#{entry}` | – | – |
//! | build trigger (and the log entry of the delivery that made it) | `TRIGGER#{id}` | `META` | `TRIGGERS#{status}` / `{time}#{id}` | `TRIGGERS#{integration}` / `{time}#{id}` |
//! | build marker (a trigger stored before, under its derived id) | `TRIGGER#{id}` | `META` | – | – |
//! | project hook  | `INTEGRATION#{id}`  | `HOOK#{project}`        | –                    | – |
//! | group hook    | `INTEGRATION#{id}`  | `GROUPHOOK#{group}`     | –                    | – |
//! | merge request summary note | `INTEGRATION#{id}` | `MRNOTE#{project}#{iid}` | – | – |
//! | name index    | `INTEGRATION#{id}`  | `NAMEINDEX`, `NAMEINDEX#{version}#{chunk}` | – | – |
//! | sync record   | `INTEGRATION#{id}`  | `SYNC`                  | –                    | – |
//! | OAuth state   | `OAUTH_STATE#{digest}` | `META`               | –                    | – |
//! | migration marker | `MIGRATION`      | `STORAGE_SHAPE_2`       | –                    | – |
//!
//! Superseded webhook keys, dedupe markers, log entries and finished triggers carry a `ttl`
//! attribute (Unix seconds) so DynamoDB drops them; readers still check the times themselves,
//! since TTL deletion lags. The table's stream hands new triggers to the hand-off.
//!
//! - get an integration: GetItem; list integrations: Query gsi1 `INTEGRATIONS` (one partition:
//!   integrations number in the dozens, not millions);
//! - an integration's installations or repositories: Query pk with `begins_with(sk, …)`;
//! - a repository by id (avatar, webhook secret): Query gsi1 `REPOSITORY#{repo}`;
//! - a webhook delivery (`deliveries.rs`): its secret's key found through gsi1
//!   `WEBHOOK_KEY#{digest}` and read consistently, its repository read consistently, then one
//!   conditional PutItem of its one item: the trigger when it builds (its id derived from the
//!   build, so a resend or a copy through another hook is refused as a duplicate), else the
//!   logged delivery keyed by its dedupe key. A building push costs 3 write units;
//! - rotation: one transaction that moves the scope's head item (conditioned on the current
//!   key it saw), so two rotations racing cannot both leave a current key;
//! - the delivery log: gsi2 `TRIGGERS#{id}` and `DELIVERIES#{id}` and pk `DELIVERY#`, each newest
//!   first, merged, paged by the sort key;
//! - a trigger by id: GetItem; the queue: Query gsi1 `TRIGGERS#{status}`, or gsi2
//!   `TRIGGERS#{integration}` (filtered by status when asked), after a position (one query per
//!   status when neither is asked for); claims and reports are PutItems conditioned on the
//!   version read, so one claim of several racing wins;
//! - the token-refresh lease: a conditional UpdateItem on the integration's `META` item;
//!   completing a refresh is a PutItem conditioned on still holding it;
//! - an OAuth state is taken with one conditional DeleteItem returning the old item, so it is
//!   used at most once; its `ttl` removes the unused ones;
//! - delete: the keys and triggers first (the triggers through gsi2), then the partition a
//!   keys-only page at a time, the `META` item last so a delete that fails half-way is still
//!   visible and can be repeated;
//! - `migration.rs`: a scan, once, for triggers stored before a delivery was one item.
//!
//! Bodies are mapped with serde_dynamo; the key attributes (formats in `keys.rs`) are added
//! beside them. One module per port: `integrations`, `repositories`, `webhooks` (with
//! `deliveries`), `triggers`, `hooks`, `syncs`, `oauth_states`.

mod deliveries;
mod hooks;
mod integrations;
pub mod keys;
mod migration;
pub use migration::MigrationProgress;
mod name_index;
mod oauth_states;
mod repositories;
mod syncs;
mod triggers;
pub use triggers::{is_trigger_item, trigger_from_image};
mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::StoreError;

type Item = HashMap<String, AttributeValue>;

const KEY_ATTRIBUTES: [&str; 7] = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl"];
/// The table's TTL attribute.
const TTL: &str = "ttl";
const GSI1: &str = "gsi1";
const GSI2: &str = "gsi2";
/// BatchWriteItem takes at most 25 requests.
const BATCH: usize = 25;
/// BatchWriteItem calls sent side by side.
const BATCHES_IN_FLIGHT: usize = 8;

/// The store over one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn unavailable<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + std::fmt::Debug + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

/// A conditional write's outcome: `Ok(true)` written, `Ok(false)` its condition did not hold.
fn condition_held<O, E>(
    result: Result<O, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") => {
            Ok(false)
        }
        Err(err) => Err(unavailable(err)),
    }
}

/// A write that must find its condition true: `Conflict` otherwise.
fn conflict_unless_held(held: bool) -> Result<(), StoreError> {
    if held { Ok(()) } else { Err(StoreError::Conflict) }
}

fn to_item<T: Serialize>(body: &T, keys: &[(&str, String)]) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(body).map_err(|e| StoreError::Unavailable(format!("encoding an item: {e}")))?;
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
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// Every item of a partition whose sort key starts with `prefix` (all of them for an empty
    /// prefix: DynamoDB refuses an empty key value), following pages.
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk));
        let query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
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

    /// The sort keys of up to about `page` items of a partition other than its `META` item, read
    /// as keys only, so a page costs its keys whatever the items carry.
    async fn child_keys_page(&self, pk: &str, page: usize) -> Result<Vec<String>, StoreError> {
        let limit = i32::try_from(page.max(2)).unwrap_or(i32::MAX);
        let mut start: Option<Item> = None;
        loop {
            let answer = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .limit(limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            let keys: Vec<String> = answer
                .items()
                .iter()
                .filter_map(|item| match item.get("sk") {
                    Some(AttributeValue::S(sk)) if sk != keys::META => Some(sk.clone()),
                    _ => None,
                })
                .collect();
            // A page holding only `META` says nothing of what follows it: read on.
            match answer.last_evaluated_key() {
                Some(last) if keys.is_empty() => start = Some(last.clone()),
                _ => return Ok(keys),
            }
        }
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

    /// The items of these keys that exist (BatchGetItem, 100 keys a call, unprocessed keys
    /// retried), consistent reads.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| HashMap::from([("pk".to_string(), s(pk.clone())), ("sk".to_string(), s(sk.clone()))]))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            );
            for attempt in 0u32.. {
                let Some(request) = pending.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    if attempt >= 8 {
                        return Err(StoreError::Unavailable(
                            "DynamoDB kept keys unprocessed after retries".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
                }
            }
        }
        Ok(found)
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
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

    /// Runs BatchWriteItem in chunks, several at once.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(BATCH).map(<[WriteRequest]>::to_vec).collect();
        stream::iter(chunks)
            .map(|chunk| self.write_chunk(chunk))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One BatchWriteItem of at most 25 requests, resending what DynamoDB left unprocessed
    /// with a growing pause (it leaves items when a partition is throttled).
    async fn write_chunk(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0u32.. {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(unavailable)?;
            pending = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if attempt >= 8 {
                return Err(StoreError::Unavailable(
                    "DynamoDB kept items unprocessed after retries".into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
        }
        Ok(())
    }
}

fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
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

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
