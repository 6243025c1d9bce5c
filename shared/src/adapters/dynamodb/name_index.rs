//! The name index on DynamoDB: a directory item (version, writer, total, entries and first entry
//! per chunk) and chunk items of a few thousand entries each, compressed. A page reads the
//! directory and the one or two chunks it falls in; a search reads the chunks (compressed sorted
//! names: about a tenth of their text).
//!
//! A change streams: the old chunks are read one at a time and merged with the change into new
//! chunks under a key of this writer's own, then the directory is switched to them on the
//! condition that it still names the version the change was read from. Of two writers at once
//! the second finds the condition broken, removes its chunks and applies its change again.

use std::io::{Read, Write};

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

use crate::adapters::dynamodb::keys::{NAME_INDEX, integration_pk, name_index_chunk_sk};
use crate::adapters::dynamodb::{
    DynamoStore, Item, condition_held, conflict_unless_held, delete_request, from_item, number, put_request, to_item,
};
use crate::domain::ids::IntegrationId;
use crate::domain::index_merge::IndexMerge;
use crate::domain::name_index::{IndexBounds, IndexChange, IndexEntry, IndexSlice, WhenMissing};
use crate::ports::StoreError;

/// Entries per chunk: even long names stay far below DynamoDB's 400 KB item limit.
const CHUNK: usize = 2_000;

#[derive(Debug, Serialize, Deserialize)]
struct Directory {
    version: u64,
    total: u64,
    chunk_counts: Vec<u64>,
    /// Each chunk's first entry (directories written before it was kept have none).
    #[serde(default)]
    chunk_firsts: Vec<IndexEntry>,
    /// The writer of this version, in its chunks' keys (empty in directories written before
    /// writers had one).
    #[serde(default)]
    writer: String,
}

/// How often a change is tried before giving up on an index other writers keep changing, and
/// the longest pause (times the attempt) before trying again, chosen at random so writers that
/// collided do not collide again.
const CHANGE_ATTEMPTS: u32 = 20;
const MOST_PAUSE_MS: u64 = 25;

/// Chunk writes sent together (a batch of 25 requests, 4 in flight).
const CHUNK_WRITES_AT_ONCE: usize = 100;

fn encode(entries: &[IndexEntry]) -> Result<Vec<u8>, StoreError> {
    let json =
        serde_json::to_vec(entries).map_err(|e| StoreError::Unavailable(format!("encoding an index chunk: {e}")))?;
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(&json)
        .and_then(|_| encoder.finish())
        .map_err(|e| StoreError::Unavailable(format!("compressing an index chunk: {e}")))
}

fn decode(bytes: &[u8]) -> Result<Vec<IndexEntry>, StoreError> {
    let mut json = Vec::new();
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| StoreError::Unavailable(format!("reading an index chunk: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Unavailable(format!("decoding an index chunk: {e}")))
}

impl DynamoStore {
    async fn directory(&self, integration_id: &IntegrationId) -> Result<Option<Directory>, StoreError> {
        self.get(integration_pk(integration_id), NAME_INDEX.into())
            .await?
            .map(from_item)
            .transpose()
    }

    /// A chunk of a version, still compressed; `None` if a newer index replaced it meanwhile.
    async fn chunk(
        &self,
        integration_id: &IntegrationId,
        directory: &Directory,
        n: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(mut item) = self
            .get(
                integration_pk(integration_id),
                name_index_chunk_sk(directory.version, &directory.writer, n),
            )
            .await?
        else {
            return Ok(None);
        };
        match item.remove("data") {
            Some(AttributeValue::B(blob)) => Ok(Some(blob.into_inner())),
            _ => Err(StoreError::Unavailable("an index chunk has no data".into())),
        }
    }

    pub(super) async fn read_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError> {
        // A rewrite between reading the directory and its chunks removes the old chunks: read again.
        for _ in 0..3 {
            let Some(directory) = self.directory(integration_id).await? else {
                return Ok(None);
            };
            let end = limit.map_or(usize::MAX, |l| offset.saturating_add(l));
            let mut start_of = 0usize;
            let mut wanted = Vec::new();
            for (n, count) in directory.chunk_counts.iter().enumerate() {
                let count = *count as usize;
                if start_of + count > offset && start_of < end {
                    wanted.push((n, start_of));
                }
                start_of += count;
            }
            let chunks =
                futures::future::try_join_all(wanted.iter().map(|(n, _)| self.chunk(integration_id, &directory, *n)))
                    .await?;
            if chunks.iter().any(Option::is_none) {
                continue;
            }
            let first = wanted.first().map_or(0, |(_, start)| *start);
            // Sized once and filled a chunk at a time, so a whole index read by a sync pass (its
            // largest allocation) is held once, not once more in decoded chunks.
            let wanted_len = end.min(directory.total as usize).saturating_sub(offset);
            let mut entries = Vec::with_capacity(wanted_len);
            let mut skip = offset.saturating_sub(first);
            for blob in chunks.into_iter().flatten() {
                let decoded = decode(&blob)?;
                let take = wanted_len - entries.len();
                entries.extend(decoded.into_iter().skip(skip).take(take));
                skip = 0;
            }
            return Ok(Some(IndexSlice {
                entries,
                total: directory.total as usize,
            }));
        }
        Err(StoreError::Unavailable(
            "the name index kept changing while it was read".into(),
        ))
    }

    pub(super) async fn index_bounds(&self, integration_id: &IntegrationId) -> Result<Option<IndexBounds>, StoreError> {
        let Some(directory) = self.directory(integration_id).await? else {
            return Ok(None);
        };
        if directory.chunk_firsts.len() != directory.chunk_counts.len() {
            return Ok(None);
        }
        let mut offset = 0usize;
        let chunks = directory
            .chunk_firsts
            .into_iter()
            .zip(directory.chunk_counts)
            .map(|(first, count)| {
                let start = offset;
                offset += count as usize;
                (first, start)
            })
            .collect();
        Ok(Some(IndexBounds {
            total: directory.total as usize,
            chunks,
        }))
    }

    /// Applies `change` to the index, again from the start when another writer switched the
    /// directory first.
    pub(super) async fn change_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError> {
        for attempt in 1..=CHANGE_ATTEMPTS {
            match self
                .try_change_index(integration_id, change.clone(), when_missing)
                .await
            {
                Err(StoreError::Conflict) => {
                    let pause = rand::random_range(0..=MOST_PAUSE_MS * u64::from(attempt));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                done => return done,
            }
        }
        Err(StoreError::Unavailable(
            "the name index kept changing while a change was applied".into(),
        ))
    }

    async fn try_change_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError> {
        let old = self.directory(integration_id).await?;
        if old.is_none() && when_missing == WhenMissing::Leave {
            return Ok(None);
        }
        let mut new = Directory {
            version: old.as_ref().map_or(1, |d| d.version + 1),
            total: 0,
            chunk_counts: Vec::new(),
            chunk_firsts: Vec::new(),
            writer: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        };
        let written = self
            .write_merged_chunks(integration_id, old.as_ref(), change, &mut new)
            .await;
        let switched = match written {
            Ok(()) => self.switch_directory(integration_id, old.as_ref(), &new).await,
            Err(err) => Err(err),
        };
        let pk = integration_pk(integration_id);
        let stale = match (&switched, &old) {
            (Ok(()), Some(old)) => old,
            (Ok(()), None) => return Ok(Some(new.total as usize)),
            // Not switched: this writer's chunks name nothing, and go.
            (Err(_), _) => &new,
        };
        let deletes = (0..stale.chunk_counts.len())
            .map(|n| delete_request(pk.clone(), name_index_chunk_sk(stale.version, &stale.writer, n)))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(deletes).await?;
        switched.map(|()| Some(new.total as usize))
    }

    /// Writes the new version's chunks: the old ones read and merged one at a time, the new ones
    /// sent a hundred at a time, so the writer holds the change and a few chunks.
    async fn write_merged_chunks(
        &self,
        integration_id: &IntegrationId,
        old: Option<&Directory>,
        change: IndexChange,
        new: &mut Directory,
    ) -> Result<(), StoreError> {
        let mut merge = IndexMerge::new(integration_id, change, CHUNK);
        let mut pending = Vec::new();
        if let Some(old) = old {
            for n in 0..old.chunk_counts.len() {
                // A chunk gone means another writer replaced the version read: start again.
                let blob = self.chunk(integration_id, old, n).await?.ok_or(StoreError::Conflict)?;
                for chunk in merge.feed(decode(&blob)?) {
                    pending.push(Self::chunk_write(integration_id, new, &chunk)?);
                }
                if pending.len() >= CHUNK_WRITES_AT_ONCE {
                    self.batch_write(std::mem::take(&mut pending)).await?;
                }
            }
        }
        let (rest, total) = merge.finish();
        for chunk in rest {
            pending.push(Self::chunk_write(integration_id, new, &chunk)?);
        }
        new.total = total as u64;
        self.batch_write(pending).await
    }

    /// The put of the new version's next chunk, noted in its directory.
    fn chunk_write(
        integration_id: &IntegrationId,
        new: &mut Directory,
        chunk: &[IndexEntry],
    ) -> Result<WriteRequest, StoreError> {
        let number = new.chunk_counts.len();
        new.chunk_firsts.extend(chunk.first().cloned());
        new.chunk_counts.push(chunk.len() as u64);
        let sk = name_index_chunk_sk(new.version, &new.writer, number);
        let mut item: Item = [
            ("pk".to_string(), AttributeValue::S(integration_pk(integration_id))),
            ("sk".to_string(), AttributeValue::S(sk)),
        ]
        .into();
        item.insert("data".into(), AttributeValue::B(encode(chunk)?.into()));
        put_request(item)
    }

    /// Points the directory at the new version if it still names the old one (or, for a first
    /// index, if there is none); `Conflict` when another writer switched it first.
    async fn switch_directory(
        &self,
        integration_id: &IntegrationId,
        old: Option<&Directory>,
        new: &Directory,
    ) -> Result<(), StoreError> {
        let item = to_item(
            new,
            &[("pk", integration_pk(integration_id)), ("sk", NAME_INDEX.into())],
        )?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let put = match old {
            Some(old) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", number(old.version as i64)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        conflict_unless_held(condition_held(put.send().await)?)
    }
}
