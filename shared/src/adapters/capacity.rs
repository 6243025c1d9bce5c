//! Meters the DynamoDB capacity units a client's requests cost, by DynamoDB's sizing rules, from
//! the bodies it sends and the answers it gets: for tests and benches that hold a request path
//! to its cost (an emulator does not bill).
//!
//! The rules applied:
//! - an item's size is the sum of its attribute names and values (strings by their UTF-8
//!   bytes, numbers by about one byte per two digits plus one, maps and lists 3 bytes plus one a
//!   member, booleans and nulls one byte);
//! - a write costs one unit per KB of the item, and as much again for each index whose key
//!   attributes the item carries (the table's indexes project every attribute); a write refused
//!   by its condition costs the item's units and writes no index;
//! - a transaction costs twice what its writes would;
//! - an update costs one unit (the items updated on a delivery's path are under a KB and on no
//!   index; a bench that updates others must not use this meter);
//! - a read costs one unit per 4 KB read (half for an eventually consistent one), at least half a
//!   unit a request (a key of a batch is a request, found or not); a query by what it returns
//!   (the metered paths filter nothing).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;

/// The table's indexes, by their key attributes.
const INDEX_KEYS: [(&str, &str); 2] = [("gsi1pk", "gsi1sk"), ("gsi2pk", "gsi2sk")];

/// Read and write units spent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

impl std::ops::Sub for Units {
    type Output = Units;
    fn sub(self, earlier: Units) -> Units {
        Units {
            read: self.read - earlier.read,
            write: self.write - earlier.write,
        }
    }
}

/// The units spent so far by the client this meter's interceptor is on. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<Units>>);

impl CapacityMeter {
    pub fn snapshot(&self) -> Units {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, spent: Units) {
        let mut units = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        units.read += spent.read;
        units.write += spent.write;
    }
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .unwrap_or(Value::Null);
        cfg.interceptor_state().store_put(Sent { operation, body });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Sent { operation, body: sent }) = cfg.load::<Sent>().cloned() else {
            return Ok(());
        };
        let response = context.response();
        let answer = response
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .unwrap_or(Value::Null);
        let refused = !response.status().is_success();
        self.add(units_of(&operation, &sent, &answer, refused));
        Ok(())
    }
}

/// The request an answer is for, kept between the two interceptor calls of one attempt.
#[derive(Debug, Clone)]
struct Sent {
    operation: String,
    body: Value,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

/// What one request costs.
fn units_of(operation: &str, sent: &Value, answer: &Value, refused: bool) -> Units {
    let consistent = sent["ConsistentRead"].as_bool().unwrap_or(false);
    match operation {
        "PutItem" => Units {
            read: 0.0,
            write: put_units(&sent["Item"], refused),
        },
        "UpdateItem" | "DeleteItem" => Units { read: 0.0, write: 1.0 },
        "TransactWriteItems" => Units {
            read: 0.0,
            write: 2.0
                * sent["TransactItems"].as_array().map_or(0.0, |items| {
                    items.iter().map(|i| put_units(&i["Put"]["Item"], false).max(1.0)).sum()
                }),
        },
        "BatchWriteItem" => Units {
            read: 0.0,
            write: sent["RequestItems"].as_object().map_or(0.0, |tables| {
                tables
                    .values()
                    .flat_map(|requests| requests.as_array().cloned().unwrap_or_default())
                    .map(|r| put_units(&r["PutRequest"]["Item"], false).max(1.0))
                    .sum()
            }),
        },
        "GetItem" => Units {
            read: read_units(&[&answer["Item"]], consistent),
            write: 0.0,
        },
        "Query" | "Scan" => Units {
            read: read_units(
                &answer["Items"]
                    .as_array()
                    .map(|i| i.iter().collect::<Vec<_>>())
                    .unwrap_or_default(),
                consistent,
            ),
            write: 0.0,
        },
        "BatchGetItem" => {
            let tables = sent["RequestItems"].as_object();
            let consistent = tables
                .and_then(|t| t.values().next())
                .and_then(|t| t["ConsistentRead"].as_bool())
                .unwrap_or(false);
            let requested: usize = tables
                .map(|t| t.values().map(|t| t["Keys"].as_array().map_or(0, Vec::len)).sum())
                .unwrap_or(0);
            let items: Vec<&Value> = answer["Responses"]
                .as_object()
                .map(|t| {
                    t.values()
                        .flat_map(|items| items.as_array().into_iter().flatten())
                        .collect()
                })
                .unwrap_or_default();
            // Each key of a batch is billed as its own read, found or not.
            let found = items.iter().map(|item| read_units(&[item], consistent)).sum::<f64>();
            let missing = requested.saturating_sub(items.len()) as f64 * read_units(&[], consistent);
            Units {
                read: found + missing,
                write: 0.0,
            }
        }
        _ => Units::default(),
    }
}

fn put_units(item: &Value, refused: bool) -> f64 {
    let Some(attributes) = item.as_object() else {
        return 0.0;
    };
    let per_copy = (item_size(item) as f64 / 1024.0).ceil().max(1.0);
    if refused {
        return per_copy;
    }
    let indexes = INDEX_KEYS
        .iter()
        .filter(|(pk, sk)| attributes.contains_key(*pk) && attributes.contains_key(*sk))
        .count();
    per_copy * (1 + indexes) as f64
}

fn read_units(items: &[&Value], consistent: bool) -> f64 {
    let bytes: usize = items.iter().map(|item| item_size(item)).sum();
    let units = (bytes as f64 / 4096.0).ceil().max(1.0);
    if consistent { units } else { units / 2.0 }
}

/// An item's size: its attributes' names and values.
pub fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attributes| {
        attributes
            .iter()
            .map(|(name, value)| name.len() + value_size(value))
            .sum()
    })
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner
            .as_str()
            .map_or(1, |n| n.trim_start_matches('-').len().div_ceil(2) + 1),
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "BOOL" | "NULL" => 1,
        "SS" | "BS" => inner
            .as_array()
            .map_or(0, |v| v.iter().map(|s| s.as_str().map_or(0, str::len)).sum()),
        "NS" => inner.as_array().map_or(0, |v| {
            v.iter()
                .map(|n| n.as_str().map_or(1, |n| n.len().div_ceil(2) + 1))
                .sum()
        }),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |v| v.iter().map(|e| 1 + value_size(e)).sum())
        }
        "M" => {
            3 + inner
                .as_object()
                .map_or(0, |m| m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum())
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_rules() {
        let item = json!({"pk": {"S": "abc"}, "n": {"N": "1234"}, "ok": {"BOOL": true}, "m": {"M": {"k": {"S": "v"}}}});
        // pk 2+3, n 1+3, ok 2+1, m 1+(3+1+1+1)
        assert_eq!(item_size(&item), 5 + 4 + 3 + 7);
    }

    #[test]
    fn a_put_pays_for_each_index_it_joins_and_a_refused_one_only_for_the_item() {
        let indexed = json!({"pk": {"S": "p"}, "sk": {"S": "s"}, "gsi1pk": {"S": "a"}, "gsi1sk": {"S": "b"}});
        assert_eq!(put_units(&indexed, false), 2.0);
        assert_eq!(put_units(&indexed, true), 1.0);
        let big = json!({"pk": {"S": "x".repeat(1500)}});
        assert_eq!(put_units(&big, false), 2.0);
    }

    #[test]
    fn reads_round_up_to_4_kb_and_halve_when_eventually_consistent() {
        let small = json!({"pk": {"S": "p"}});
        assert_eq!(read_units(&[&small], true), 1.0);
        assert_eq!(read_units(&[&small], false), 0.5);
        let units = units_of("GetItem", &json!({"ConsistentRead": true}), &json!({}), false);
        assert_eq!(units.read, 1.0, "a miss still costs a read");
    }
}
