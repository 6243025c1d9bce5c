//! The name index on DynamoDB: a directory item (version, total, entries and first entry per
//! chunk) and chunk items of a few thousand entries each, compressed. A page reads the directory and the one or
//! two chunks it falls in; a search reads the chunks (compressed sorted names: about a tenth of
//! their text).

use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

use crate::adapters::dynamodb::keys::{NAME_INDEX, integration_pk, name_index_chunk_sk};
use crate::adapters::dynamodb::{DynamoStore, Item, delete_request, from_item, put_request, to_item};
use crate::domain::ids::IntegrationId;
use crate::domain::name_index::{IndexBounds, IndexEntry, IndexSlice};
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
}

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
        version: u64,
        n: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(mut item) = self
            .get(integration_pk(integration_id), name_index_chunk_sk(version, n))
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
            let chunks = futures::future::try_join_all(
                wanted
                    .iter()
                    .map(|(n, _)| self.chunk(integration_id, directory.version, *n)),
            )
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

    pub(super) async fn write_index(
        &self,
        integration_id: &IntegrationId,
        entries: &[IndexEntry],
    ) -> Result<(), StoreError> {
        let pk = integration_pk(integration_id);
        let old = self.directory(integration_id).await?;
        let version = old.as_ref().map_or(1, |d| d.version + 1);
        let mut writes = Vec::new();
        let mut counts = Vec::new();
        let mut firsts = Vec::new();
        for (n, chunk) in entries.chunks(CHUNK).enumerate() {
            firsts.extend(chunk.first().cloned());
            let mut item: Item = [
                ("pk".to_string(), AttributeValue::S(pk.clone())),
                ("sk".to_string(), AttributeValue::S(name_index_chunk_sk(version, n))),
            ]
            .into();
            item.insert("data".into(), AttributeValue::B(encode(chunk)?.into()));
            writes.push(put_request(item)?);
            counts.push(chunk.len() as u64);
        }
        self.batch_write(writes).await?;
        let directory = Directory {
            version,
            total: entries.len() as u64,
            chunk_counts: counts,
            chunk_firsts: firsts,
        };
        let item = to_item(&directory, &[("pk", pk.clone()), ("sk", NAME_INDEX.into())])?;
        self.batch_write(vec![put_request(item)?]).await?;
        if let Some(old) = old {
            let stale = (0..old.chunk_counts.len())
                .map(|n| delete_request(pk.clone(), name_index_chunk_sk(old.version, n)))
                .collect::<Result<Vec<_>, _>>()?;
            self.batch_write(stale).await?;
        }
        Ok(())
    }
}
