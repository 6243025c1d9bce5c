//! A repository sync as a job: one record per integration (its own item, apart from the
//! integration's) that says whether a pass is running, how far it got, and how it ended. A pass
//! has a generation; repositories it wrote carry it, so the ones a complete pass did not see
//! are known and removed — and a pass that fails removes nothing.

use serde::{Deserialize, Serialize};

use crate::domain::ids::IntegrationId;

/// Where the integration's latest pass is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRunState {
    Running,
    Succeeded,
    Failed,
}

/// Why a pass failed, as the request that waited for it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncFailureKind {
    /// GitLab refused the integration's token; it is marked `error`.
    ReconnectRequired,
    /// GitLab could not be reached or answered with an error.
    GitLabUnavailable,
    /// The integration's credentials could not be used, or storage failed.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFailure {
    pub kind: SyncFailureKind,
    /// For a person; never a token.
    pub message: String,
}

/// A slice of project ids still to read: `after < id <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdSlice {
    pub after: u64,
    pub last: u64,
}

/// The sync record of one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub integration_id: IntegrationId,
    /// Counts passes; the running (or latest) pass's number.
    pub generation: u64,
    pub state: SyncRunState,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Projects the running (or latest) pass has read.
    pub repositories_seen: u64,
    /// Repositories stored after the latest complete pass.
    pub repository_count: u64,
    pub error: Option<SyncFailure>,
    /// The job holding the pass (a lease: one job at a time per integration).
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// What is left of the pass (`None`: not planned yet).
    pub remaining: Option<Vec<IdSlice>>,
    /// Bumped by every write: each is conditioned on the version it was made from.
    pub version: u64,
}

/// How long the record of a finished pass is kept (the table's TTL removes it then). Its
/// absence is safe: generations are seeded from the clock, and the repository count falls back
/// to the name index's.
pub const FINISHED_SYNC_RETENTION_SECS: i64 = 90 * 24 * 3600;

impl SyncRecord {
    /// A new pass after `previous` (if any). Without one (a first pass, or a record that
    /// expired) the generation is the clock's seconds: it still outnumbers every generation a
    /// repository was written with before, so a complete pass removes exactly what it did not see.
    pub fn next_pass(integration_id: &IntegrationId, previous: Option<&SyncRecord>, now: i64) -> SyncRecord {
        SyncRecord {
            integration_id: integration_id.clone(),
            generation: previous.map_or(now.max(1) as u64, |p| p.generation + 1),
            state: SyncRunState::Running,
            started_at: now,
            finished_at: None,
            repositories_seen: 0,
            repository_count: previous.map_or(0, |p| p.repository_count),
            error: None,
            lease_owner: None,
            lease_until: None,
            remaining: None,
            version: previous.map_or(1, |p| p.version + 1),
        }
    }

    /// When the record may be dropped: some time after its pass finished; never while it runs.
    pub fn expires_at(&self) -> Option<i64> {
        (self.state != SyncRunState::Running)
            .then(|| self.finished_at.unwrap_or(self.started_at) + FINISHED_SYNC_RETENTION_SECS)
    }

    /// Whether a job holds the pass at `now`.
    pub fn leased(&self, now: i64) -> bool {
        self.lease_until.is_some_and(|until| until > now)
    }

    /// The next version of this record, to write in place of this one.
    pub fn bumped(&self) -> SyncRecord {
        SyncRecord {
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The repositories to show: the latest complete pass's, or more while a pass finds more.
    pub fn shown_count(&self) -> u64 {
        match self.state {
            SyncRunState::Running => self.repository_count.max(self.repositories_seen),
            _ => self.repository_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_count_up_and_keep_the_last_count_until_they_finish() {
        let id = IntegrationId::from("i");
        let first = SyncRecord::next_pass(&id, None, 10);
        assert_eq!(
            (first.generation, first.version, first.state),
            (10, 1, SyncRunState::Running),
            "a first pass's generation is the clock's"
        );
        assert_eq!(first.expires_at(), None, "a running pass is kept");
        let done = SyncRecord {
            state: SyncRunState::Succeeded,
            repository_count: 40,
            finished_at: Some(15),
            ..first.bumped()
        };
        assert_eq!(done.expires_at(), Some(15 + FINISHED_SYNC_RETENTION_SECS));
        let second = SyncRecord::next_pass(&id, Some(&done), 20);
        assert_eq!(
            (second.generation, second.version, second.repository_count),
            (11, 3, 40)
        );
        assert_eq!(
            SyncRecord {
                repositories_seen: 55,
                ..second.clone()
            }
            .shown_count(),
            55
        );
        assert_eq!(
            SyncRecord {
                repositories_seen: 5,
                ..second
            }
            .shown_count(),
            40
        );
    }
}
