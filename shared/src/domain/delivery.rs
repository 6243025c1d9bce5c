//! What a webhook delivery leaves behind in the delivery log (a build's trigger is in `trigger`).

use serde::{Deserialize, Serialize};

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};

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

impl DeliveryRecord {
    /// Orders the log: time first, then the entry id. Page cursors encode it.
    pub fn sort_key(&self) -> String {
        format!("{:011}#{}", self.received_at.max(0), self.id)
    }

    /// What duplicates are recognised by: the delivery key within its project. A key is chosen by
    /// whoever sends the delivery, so one repository's secret holder must not be able to claim a
    /// key another project's delivery will carry.
    pub fn dedupe_key(&self) -> String {
        match self.project_id {
            Some(project) => format!("project:{project}\n{}", self.delivery_key),
            None => format!("integration\n{}", self.delivery_key),
        }
    }
}
