//! Applies an [`IndexChange`] to a sorted name index read a chunk at a time, giving the new
//! index a chunk at a time: a writer holds the change and two chunks, never the whole index.

use std::collections::HashSet;
use std::iter::Peekable;

use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::name_index::{IndexChange, IndexEntry, entry_order, sort_entries};

/// The merge of one change into one index, fed the old entries in order.
pub struct IndexMerge<'a> {
    integration: &'a IntegrationId,
    /// The added entries still to place, in index order.
    added: Peekable<std::vec::IntoIter<IndexEntry>>,
    /// Projects whose old entries are dropped: replaced by an added entry, or gone.
    dropped: HashSet<ProjectId>,
    /// Entries per output chunk.
    chunk: usize,
    out: Vec<IndexEntry>,
    written: usize,
}

impl<'a> IndexMerge<'a> {
    /// A merge giving chunks of `chunk` entries. An added entry of a gone project is dropped; of
    /// two added entries for one project the later one counts.
    pub fn new(integration: &'a IntegrationId, change: IndexChange, chunk: usize) -> Self {
        let gone: HashSet<ProjectId> = change.gone.into_iter().collect();
        let mut added = Vec::with_capacity(change.added.len());
        let mut placed = HashSet::with_capacity(change.added.len());
        for entry in change.added.into_iter().rev() {
            if !gone.contains(&entry.1) && placed.insert(entry.1) {
                added.push(entry);
            }
        }
        sort_entries(integration, &mut added);
        let mut dropped = gone;
        dropped.extend(placed);
        IndexMerge {
            integration,
            added: added.into_iter().peekable(),
            dropped,
            chunk: chunk.max(1),
            out: Vec::new(),
            written: 0,
        }
    }

    /// Takes the next old entries (in index order); answers the new chunks they complete.
    pub fn feed(&mut self, old: Vec<IndexEntry>) -> Vec<Vec<IndexEntry>> {
        let mut full = Vec::new();
        for entry in old {
            if self.dropped.contains(&entry.1) {
                continue;
            }
            while let Some(added) = self.added.next_if(|a| entry_order(self.integration, a, &entry).is_lt()) {
                self.push(added, &mut full);
            }
            self.push(entry, &mut full);
        }
        full
    }

    /// Places the added entries after the last old one; answers the remaining chunks (the last
    /// may be short) and the new index's size.
    pub fn finish(mut self) -> (Vec<Vec<IndexEntry>>, usize) {
        let mut full = Vec::new();
        while let Some(added) = self.added.next() {
            self.push(added, &mut full);
        }
        if !self.out.is_empty() {
            full.push(std::mem::take(&mut self.out));
        }
        (full, self.written)
    }

    fn push(&mut self, entry: IndexEntry, full: &mut Vec<Vec<IndexEntry>>) {
        self.out.push(entry);
        self.written += 1;
        if self.out.len() == self.chunk {
            full.push(std::mem::replace(&mut self.out, Vec::with_capacity(self.chunk)));
        }
    }
}

/// The whole new index from the whole old one (stores that hold an index in one place).
pub fn apply_change(integration: &IntegrationId, old: Vec<IndexEntry>, change: IndexChange) -> Vec<IndexEntry> {
    let mut merge = IndexMerge::new(integration, change, usize::MAX);
    let mut chunks = merge.feed(old);
    chunks.extend(merge.finish().0);
    chunks.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, project: u64) -> IndexEntry {
        IndexEntry(name.into(), ProjectId(project), None, false)
    }

    fn names(entries: &[IndexEntry]) -> Vec<(&str, u64)> {
        entries.iter().map(|e| (e.0.as_str(), e.1.get())).collect()
    }

    #[test]
    fn a_change_lands_in_order_whatever_the_chunking() {
        let integration = IntegrationId::from("i");
        let old: Vec<IndexEntry> = (0..50).map(|n| entry(&format!("g/p{n:03}"), n)).collect();
        let change = IndexChange {
            // A rename (p010 → z), a new project, one gone, one added twice (the later counts).
            added: vec![
                entry("z", 10),
                entry("g/p0105", 100),
                entry("g/q-old", 7),
                entry("g/q", 7),
            ],
            gone: vec![ProjectId(20)],
        };
        let whole = apply_change(&integration, old.clone(), change.clone());
        let expected: Vec<(String, u64)> = {
            let mut e: Vec<(String, u64)> = (0..50)
                .filter(|n| ![10, 20, 7].contains(n))
                .map(|n| (format!("g/p{n:03}"), n))
                .chain([("z".into(), 10), ("g/p0105".into(), 100), ("g/q".into(), 7)])
                .collect();
            e.sort();
            e
        };
        let got: Vec<(String, u64)> = names(&whole).into_iter().map(|(n, p)| (n.to_string(), p)).collect();
        assert_eq!(got, expected);
        for (feed, out) in [(7, 3), (50, 50), (1, 1000)] {
            let mut merge = IndexMerge::new(&integration, change.clone(), out);
            let mut chunks: Vec<Vec<IndexEntry>> = old.chunks(feed).flat_map(|c| merge.feed(c.to_vec())).collect();
            let (rest, total) = merge.finish();
            chunks.extend(rest);
            assert!(
                chunks.iter().rev().skip(1).all(|c| c.len() == out),
                "full chunks but the last"
            );
            assert_eq!(total, whole.len());
            assert_eq!(chunks.concat(), whole, "fed {feed} at a time, chunks of {out}");
        }
    }

    #[test]
    fn an_empty_index_takes_the_added_entries_sorted() {
        let integration = IntegrationId::from("i");
        let change = IndexChange {
            added: vec![entry("b", 2), entry("a", 1)],
            gone: vec![],
        };
        assert_eq!(names(&apply_change(&integration, vec![], change)), [("a", 1), ("b", 2)]);
    }
}
