//! What a webhook delivery leaves behind: an entry in the delivery log, and for a build, a
//! trigger record a build system consumes.

use serde::{Deserialize, Serialize};

use super::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use super::webhook::BuildRequest;

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Triggered,
    Duplicate,
    Ignored,
    Refused,
}

/// One entry of an integration's delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Unique per log entry (duplicates get their own entry).
    pub id: String,
    pub integration_id: IntegrationId,
    /// The dedupe key: Idempotency-Key, X-Gitlab-Event-UUID, or `sha256:` of the delivery.
    pub delivery_key: String,
    /// The event kind (`push`, `tag_push`, `merge_request`, `note`, …).
    pub event: String,
    pub project_id: Option<ProjectId>,
    pub repository_id: Option<RepositoryId>,
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub trigger_id: Option<TriggerId>,
    pub received_at: i64,
    /// When the log entry (and the dedupe marker) may be dropped (Unix seconds; the table's TTL).
    pub expires_at: i64,
}

/// A queued build, as a build system reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildTrigger {
    pub id: TriggerId,
    pub integration_id: IntegrationId,
    pub repository_id: RepositoryId,
    pub project_id: ProjectId,
    pub full_name: Option<String>,
    /// What to build: event, ref, branch or tag, commit, actor, merge request.
    #[serde(flatten)]
    pub build: BuildRequest,
    pub delivery_key: String,
    /// `queued` when written; the build system moves it on.
    pub status: String,
    pub created_at: i64,
}

impl BuildTrigger {
    pub fn queued(
        request: BuildRequest,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        full_name: Option<String>,
        delivery_key: &str,
        now: i64,
    ) -> Self {
        BuildTrigger {
            id: TriggerId::generate(),
            integration_id: integration_id.clone(),
            repository_id: RepositoryId::derive(integration_id, project_id),
            project_id,
            full_name,
            build: request,
            delivery_key: delivery_key.to_string(),
            status: "queued".into(),
            created_at: now,
        }
    }
}

impl DeliveryRecord {
    /// Orders the log: time first, then the entry id. Also the page cursor's form.
    pub fn sort_key(&self) -> String {
        format!("{:011}#{}", self.received_at.max(0), self.id)
    }
}

/// Whether a caller-supplied cursor has the form of a [`DeliveryRecord::sort_key`].
pub fn is_cursor(cursor: &str) -> bool {
    match cursor.split_once('#') {
        Some((time, id)) => {
            time.len() == 11 && time.bytes().all(|b| b.is_ascii_digit()) && uuid::Uuid::parse_str(id).is_ok()
        }
        None => false,
    }
}
