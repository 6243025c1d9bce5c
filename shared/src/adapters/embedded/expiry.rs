//! Expiry, as DynamoDB's TTL does it on AWS: items that carry an end are entered in an index
//! by that time, and a periodic sweep removes those whose time has come.

use redb::{ReadableTable, WriteTransaction};
use serde::de::DeserializeOwned;

use crate::adapters::embedded::{
    DEDUPE, DELIVERIES, EXPIRY, EmbeddedStore, Items, KEYS_BY_INTEGRATION, MERGE_REQUEST_NOTES, NOTHING, OAUTH_STATES,
    SYNCS, TRIGGER_QUEUE, TRIGGERS, TRIGGERS_BY_INTEGRATION, WEBHOOK_KEYS, get, remove, unavailable, under,
};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::merge_request_note::MergeRequestNote;
use crate::domain::oauth::PendingAuthorization;
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::Trigger;
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::StoreError;

/// How many expired items one sweep transaction removes (more wait for the next transaction,
/// so webhooks are never held up by a long sweep).
const SWEEP_BATCH: usize = 2_000;

/// What kind of item an expiry entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Delivery,
    Dedupe,
    OAuthState,
    Trigger,
    Sync,
    WebhookKey,
    MergeRequestNote,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Delivery => "delivery",
            Kind::Dedupe => "dedupe",
            Kind::OAuthState => "oauth",
            Kind::Trigger => "trigger",
            Kind::Sync => "sync",
            Kind::WebhookKey => "key",
            Kind::MergeRequestNote => "mr_note",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        [
            Kind::Delivery,
            Kind::Dedupe,
            Kind::OAuthState,
            Kind::Trigger,
            Kind::Sync,
            Kind::WebhookKey,
            Kind::MergeRequestNote,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// Enters the item `key` of `kind` for removal at `at`. The item's own end decides when the
/// sweep comes: an item written again with a later end (or none) is left in place.
pub(super) fn schedule(txn: &WriteTransaction, at: i64, kind: Kind, key: &str) -> Result<(), StoreError> {
    let entry = format!("{:020}\0{}\0{key}", at.max(0), kind.name());
    txn.open_table(EXPIRY)
        .map_err(unavailable)?
        .insert(entry.as_str(), NOTHING)
        .map_err(unavailable)?;
    Ok(())
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub deliveries: usize,
    pub dedupe_markers: usize,
    pub oauth_states: usize,
    pub triggers: usize,
    pub syncs: usize,
    pub webhook_keys: usize,
    pub merge_request_notes: usize,
}

impl Swept {
    pub fn total(&self) -> usize {
        self.deliveries
            + self.dedupe_markers
            + self.oauth_states
            + self.triggers
            + self.syncs
            + self.webhook_keys
            + self.merge_request_notes
    }
}

impl EmbeddedStore {
    /// Removes every item whose end is at or before `now`, a batch per transaction.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be read or written; what was swept before stays swept.
    pub async fn sweep_expired(&self, now: i64) -> Result<Swept, StoreError> {
        let mut total = Swept::default();
        loop {
            let (batch, more) = self.write(move |txn| sweep_batch(txn, now)).await?;
            total.deliveries += batch.deliveries;
            total.dedupe_markers += batch.dedupe_markers;
            total.oauth_states += batch.oauth_states;
            total.triggers += batch.triggers;
            total.syncs += batch.syncs;
            total.webhook_keys += batch.webhook_keys;
            total.merge_request_notes += batch.merge_request_notes;
            if !more {
                return Ok(total);
            }
        }
    }
}

/// One batch of the sweep; answers whether more entries are due.
fn sweep_batch(txn: &WriteTransaction, now: i64) -> Result<(Swept, bool), StoreError> {
    let due_before = format!("{:020}\u{1}", now.max(0));
    let due: Vec<String> = {
        let index = txn.open_table(EXPIRY).map_err(unavailable)?;
        let mut due = Vec::new();
        for entry in index
            .range(..due_before.as_str())
            .map_err(unavailable)?
            .take(SWEEP_BATCH + 1)
        {
            due.push(entry.map_err(unavailable)?.0.value().to_string());
        }
        due
    };
    let more = due.len() > SWEEP_BATCH;
    let mut swept = Swept::default();
    for entry in due.iter().take(SWEEP_BATCH) {
        let mut parts = entry.splitn(3, '\0');
        let (_, kind, key) = (parts.next(), parts.next(), parts.next());
        if let (Some(kind), Some(key)) = (kind.and_then(Kind::parse), key)
            && remove_if_expired(txn, kind, key, now)?
        {
            let counter = match kind {
                Kind::Delivery => &mut swept.deliveries,
                Kind::Dedupe => &mut swept.dedupe_markers,
                Kind::OAuthState => &mut swept.oauth_states,
                Kind::Trigger => &mut swept.triggers,
                Kind::Sync => &mut swept.syncs,
                Kind::WebhookKey => &mut swept.webhook_keys,
                Kind::MergeRequestNote => &mut swept.merge_request_notes,
            };
            *counter += 1;
        }
        remove(&mut txn.open_table(EXPIRY).map_err(unavailable)?, entry)?;
    }
    Ok((swept, more))
}

/// Removes the item if its own end has come; answers whether it did.
fn remove_if_expired(txn: &WriteTransaction, kind: Kind, key: &str, now: i64) -> Result<bool, StoreError> {
    let due = |end: Option<i64>| end.is_some_and(|at| at <= now);
    match kind {
        Kind::Delivery => remove_item_if(txn, DELIVERIES, key, |d: &DeliveryRecord| due(Some(d.expires_at))),
        Kind::Dedupe => remove_item_if(txn, DEDUPE, key, |end: &i64| due(Some(*end))),
        Kind::OAuthState => remove_item_if(txn, OAUTH_STATES, key, |p: &PendingAuthorization| {
            due(Some(p.expires_at))
        }),
        Kind::Sync => remove_item_if(txn, SYNCS, key, |s: &SyncRecord| due(s.expires_at())),
        Kind::MergeRequestNote => remove_item_if(txn, MERGE_REQUEST_NOTES, key, |n: &MergeRequestNote| {
            due(Some(n.expires_at))
        }),
        Kind::Trigger => {
            let mut triggers = txn.open_table(TRIGGERS).map_err(unavailable)?;
            let Some(trigger) = get::<Trigger>(&triggers, key)?.filter(|t| due(t.expires_at())) else {
                return Ok(false);
            };
            remove(&mut triggers, key)?;
            remove(
                &mut txn.open_table(TRIGGER_QUEUE).map_err(unavailable)?,
                &trigger.queue_position(),
            )?;
            remove(
                &mut txn.open_table(TRIGGERS_BY_INTEGRATION).map_err(unavailable)?,
                &under(&trigger.integration_id, key),
            )?;
            Ok(true)
        }
        Kind::WebhookKey => {
            let mut keys = txn.open_table(WEBHOOK_KEYS).map_err(unavailable)?;
            let Some(webhook_key) = get::<WebhookKey>(&keys, key)?.filter(|k| due(k.valid_until)) else {
                return Ok(false);
            };
            remove(&mut keys, key)?;
            remove(
                &mut txn.open_table(KEYS_BY_INTEGRATION).map_err(unavailable)?,
                &under(&webhook_key.integration_id, key),
            )?;
            Ok(true)
        }
    }
}

/// Removes the item under `key` in `table` if `expired` says so of it; answers whether it did.
fn remove_item_if<T: DeserializeOwned>(
    txn: &WriteTransaction,
    table: Items,
    key: &str,
    expired: impl Fn(&T) -> bool,
) -> Result<bool, StoreError> {
    let mut table = txn.open_table(table).map_err(unavailable)?;
    let gone = get::<T>(&table, key)?.is_some_and(|item| expired(&item));
    if gone {
        remove(&mut table, key)?;
    }
    Ok(gone)
}
