//! What a webhook delivery leaves behind in the delivery log (a build's trigger is in `trigger`).

use serde::{Deserialize, Serialize};

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::trigger::{FINAL_TRIGGER_RETENTION_SECS, Trigger};

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

    /// The log entry of the delivery that made `trigger`, for stores that keep the two as one
    /// item: its id is the trigger's, its time the trigger's creation.
    pub fn of_trigger(trigger: &Trigger) -> DeliveryRecord {
        DeliveryRecord {
            id: trigger.delivery_entry_id(),
            integration_id: trigger.integration_id.clone(),
            delivery_key: trigger.delivery_key.clone(),
            event: trigger.event.as_str().to_string(),
            project_id: Some(trigger.project_id),
            repository_id: Some(trigger.repository_id.clone()),
            outcome: DeliveryOutcome::Triggered,
            reason: None,
            trigger_id: Some(trigger.id.clone()),
            received_at: trigger.created_at,
            expires_at: trigger.expires_at().unwrap_or(
                (trigger.created_at + FINAL_TRIGGER_RETENTION_SECS).max(trigger.delivery_kept_until.unwrap_or(0)),
            ),
        }
    }

    /// What recording this delivery is recognised by: the trigger when it builds (every
    /// delivery of one push, through any hook, derives the same trigger id), else its dedupe key.
    pub fn recorded_as(&self, trigger: Option<&Trigger>) -> String {
        match trigger {
            Some(trigger) => format!("build\n{}", trigger.id),
            None => self.dedupe_key(),
        }
    }
}
