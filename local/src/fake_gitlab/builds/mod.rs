//! The fake GitLab's build endpoints, with GitLab's rules and refusals: commit statuses
//! (`POST /projects/:id/statuses/:sha`; the state a status already has is refused with 400, a
//! pipeline a test removed with 404; the api scope needed) and project deploy tokens (create,
//! needing Maintainer and the api scope, shown once; revoke). Tests read what was posted and
//! issued.

pub mod routes;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One commit status as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedStatus {
    pub project_id: u64,
    pub sha: String,
    pub state: String,
    pub name: String,
    pub git_ref: Option<String>,
    pub target_url: Option<String>,
    pub description: Option<String>,
    /// The pipeline the status was posted to, when the caller named one.
    pub pipeline_id: Option<u64>,
}

/// One deploy token as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDeployToken {
    pub id: u64,
    pub project_id: u64,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
    pub revoked: bool,
}

/// Every status accepted, and the latest state of each (project, commit, name): a look-up, not
/// a walk of the history, so a soak of 100,000 builds does not slow the fake down.
#[derive(Default)]
pub(crate) struct Statuses {
    pub(crate) posted: Vec<PostedStatus>,
    pub(crate) latest: HashMap<(u64, String, String), String>,
}

#[derive(Default)]
pub struct FakeBuilds {
    statuses: Mutex<Statuses>,
    tokens: Mutex<HashMap<u64, IssuedDeployToken>>,
    next_token_id: AtomicU64,
    /// Projects where the fake's user is only a Developer (no deploy tokens).
    developer_only: Mutex<HashSet<u64>>,
    /// The next N status posts answer 503 (GitLab having a bad moment).
    fail_statuses: AtomicU64,
    /// Pipelines a status may not name: GitLab answers 404 for them (one deleted meanwhile).
    refused_pipelines: Mutex<HashSet<u64>>,
}

impl FakeBuilds {
    /// Every status accepted, oldest first.
    pub fn statuses(&self) -> Vec<PostedStatus> {
        self.statuses.lock().unwrap().posted.clone()
    }

    /// How many statuses were accepted (without copying them).
    pub fn status_count(&self) -> usize {
        self.statuses.lock().unwrap().posted.len()
    }

    pub fn deploy_tokens(&self) -> Vec<IssuedDeployToken> {
        let mut tokens: Vec<_> = self.tokens.lock().unwrap().values().cloned().collect();
        tokens.sort_by_key(|t| t.id);
        tokens
    }

    /// Makes the user a Developer of `project_id`: GitLab then refuses deploy tokens there.
    pub fn make_developer_only(&self, project_id: u64) {
        self.developer_only.lock().unwrap().insert(project_id);
    }

    /// Statuses naming `pipeline_id` are answered 404, as for a pipeline GitLab no longer has.
    pub fn refuse_pipeline(&self, pipeline_id: u64) {
        self.refused_pipelines.lock().unwrap().insert(pipeline_id);
    }

    pub fn fail_next_statuses(&self, count: u64) {
        self.fail_statuses.store(count, Ordering::SeqCst);
    }
}
