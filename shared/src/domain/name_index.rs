//! The name index of an integration's repositories: what listing and search need of each,
//! sorted as Oore lists them (lower-case full name), so a page at any offset, its total and a
//! search read the index and the page's own items, never every repository.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::integration::Repository;

/// One repository in the index. Serialized as a short array: an index holds many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry(
    /// Lower-case full name.
    pub String,
    pub ProjectId,
    /// Lower-case default branch.
    pub Option<String>,
    /// Private (internal counts as private).
    pub bool,
);

impl IndexEntry {
    pub fn of(repo: &Repository) -> Self {
        IndexEntry(
            repo.full_name.to_lowercase(),
            repo.external_id,
            repo.default_branch.as_ref().map(|b| b.to_lowercase()),
            repo.is_private,
        )
    }

    pub fn project(&self) -> ProjectId {
        self.1
    }

    /// The daemon's search: full name, default branch, or the words "private"/"public".
    /// `query` is lower case.
    pub fn matches(&self, query: &str) -> bool {
        self.0.contains(query)
            || self.2.as_deref().is_some_and(|b| b.contains(query))
            || (query == "private" && self.3)
            || (query == "public" && !self.3)
    }
}

/// The order listings show an integration's entries in: by lower-case full name, then by
/// repository id (what the listing sorted by before the index).
pub fn entry_order(integration: &IntegrationId, a: &IndexEntry, b: &IndexEntry) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| RepositoryId::derive(integration, a.1).cmp(&RepositoryId::derive(integration, b.1)))
}

/// Sorts entries of one integration as listings show them ([`entry_order`]).
pub fn sort_entries(integration: &IntegrationId, entries: &mut [IndexEntry]) {
    // Unstable: the order is total (ties broken by repository id), and it sorts in place,
    // where a stable sort would allocate half the index again.
    entries.sort_unstable_by(|a, b| entry_order(integration, a, b));
}

/// A change to an index: entries to add (replacing those of the same project) and projects to
/// drop. Applied to the index a chunk at a time ([`crate::domain::index_merge::IndexMerge`]).
#[derive(Debug, Clone, Default)]
pub struct IndexChange {
    pub added: Vec<IndexEntry>,
    pub gone: Vec<ProjectId>,
}

/// What to do with a change when the integration has no index yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// Start the index with the change (a sync pass: it sees every project).
    Create,
    /// Leave it missing (one adopted repository: listings read the repositories until a pass
    /// writes the index).
    Leave,
}

/// A slice of an index and the size of the whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSlice {
    pub entries: Vec<IndexEntry>,
    pub total: usize,
}

/// Where an index's chunks begin: each chunk's first entry and its offset, so a reader can tell
/// which chunks hold the entries around a name without reading the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexBounds {
    pub total: usize,
    /// `(first entry, offset of that entry)` of each chunk, in order.
    pub chunks: Vec<(IndexEntry, usize)>,
}

impl IndexBounds {
    /// Bounds on how many entries sort before a key, `before(e)` telling whether entry `e` does:
    /// from the start to the end of the chunk the key falls in (0 when it sorts first).
    pub fn around(&self, before: impl Fn(&IndexEntry) -> bool) -> (usize, usize) {
        let falls_in = self.chunks.partition_point(|(first, _)| before(first));
        match falls_in {
            0 => (0, 0),
            n => {
                let start = self.chunks[n - 1].1;
                let end = self.chunks.get(n).map_or(self.total, |(_, offset)| *offset);
                (start, end)
            }
        }
    }
}
