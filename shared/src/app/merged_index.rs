//! A page of several integrations' name indexes merged in listing order, reading only the chunks
//! around the page: each index's chunk bounds (first entry and offset of every chunk) tell which
//! chunks can hold the page, whatever the page's offset.

use crate::app::Services;
use crate::domain::ids::{IntegrationId, RepositoryId};
use crate::domain::name_index::{IndexBounds, IndexEntry};
use crate::ports::StoreError;

/// Where an entry sorts among every integration's: by lower-case full name, then repository id.
type SortKey = (String, RepositoryId);

fn sort_key(integration: &IntegrationId, entry: &IndexEntry) -> SortKey {
    (entry.0.clone(), RepositoryId::derive(integration, entry.project()))
}

/// Entries `offset..offset + limit` of the merged indexes of `integrations` (each tagged with its
/// integration's position) and how many there are in all; `None` when an index keeps no chunk
/// bounds (the caller then reads the indexes whole).
///
/// # Errors
/// A storage failure.
pub async fn merged_page(
    services: &Services,
    integrations: &[IntegrationId],
    offset: usize,
    limit: usize,
) -> Result<Option<(Vec<(usize, IndexEntry)>, usize)>, StoreError> {
    let bounds = futures::future::try_join_all(
        integrations
            .iter()
            .map(|id| services.repositories.read_index_bounds(id)),
    )
    .await?;
    let Some(bounds) = bounds.into_iter().collect::<Option<Vec<IndexBounds>>>() else {
        return Ok(None);
    };
    let total = bounds.iter().map(|b| b.total).sum();
    let ranges = |key: &SortKey| -> Vec<(usize, usize)> {
        bounds
            .iter()
            .zip(integrations)
            .map(|(b, id)| b.around(|e| sort_key(id, e) < *key))
            .collect()
    };
    let mut boundaries: Vec<SortKey> = bounds
        .iter()
        .zip(integrations)
        .flat_map(|(b, id)| b.chunks.iter().map(move |(first, _)| sort_key(id, first)))
        .collect();
    boundaries.sort();
    // The page starts after `from` (fewer than `offset` entries sort before it, surely) and
    // ends before `to` (at least `offset + limit` do).
    let at_most = |key: &SortKey| ranges(key).iter().map(|(_, hi)| hi).sum::<usize>() <= offset;
    let at_least = |key: &SortKey| ranges(key).iter().map(|(lo, _)| lo).sum::<usize>() >= offset + limit;
    let from = boundaries
        .partition_point(|k| at_most(k))
        .checked_sub(1)
        .map(|n| boundaries[n].clone());
    let to = boundaries.get(boundaries.partition_point(|k| !at_least(k))).cloned();
    let starts: Vec<usize> = from.as_ref().map_or_else(
        || vec![0; bounds.len()],
        |k| ranges(k).iter().map(|(lo, _)| *lo).collect(),
    );
    let ends: Vec<usize> = to.as_ref().map_or_else(
        || bounds.iter().map(|b| b.total).collect(),
        |k| ranges(k).iter().map(|(_, hi)| *hi).collect(),
    );
    let slices = futures::future::try_join_all(integrations.iter().enumerate().map(|(n, id)| {
        let (start, end) = (starts[n], ends[n].max(starts[n]));
        async move {
            if start == end {
                return Ok(Vec::new());
            }
            let slice = services
                .repositories
                .read_name_index(id, start, Some(end - start))
                .await?;
            Ok::<_, StoreError>(slice.map(|s| s.entries).unwrap_or_default())
        }
    }))
    .await?;
    let mut before_from = 0usize;
    let mut window: Vec<(SortKey, usize, IndexEntry)> = Vec::new();
    for (n, entries) in slices.into_iter().enumerate() {
        before_from += starts[n];
        for entry in entries {
            let key = sort_key(&integrations[n], &entry);
            if from.as_ref().is_some_and(|f| key < *f) {
                before_from += 1;
            } else if to.as_ref().is_none_or(|t| key < *t) {
                window.push((key, n, entry));
            }
        }
    }
    window.sort_by(|a, b| a.0.cmp(&b.0));
    let page = window
        .into_iter()
        .skip(offset.saturating_sub(before_from))
        .take(limit)
        .map(|(_, n, entry)| (n, entry))
        .collect();
    Ok(Some((page, total)))
}
