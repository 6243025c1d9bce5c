//! Work that outlives a request: sync jobs and their queue, the hand-off of new triggers, and
//! the bus `Build Triggered` events go to.

use async_trait::async_trait;

use crate::domain::ids::IntegrationId;
use crate::domain::trigger::Trigger;

/// A request to run (or go on with) an integration's sync pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncJob {
    pub integration_id: IntegrationId,
    pub generation: u64,
    /// Not a sync: remove a deleted integration's items.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purge: bool,
}

/// Where sync jobs wait for a worker (an SQS queue on AWS, a background task locally).
#[async_trait]
pub trait SyncQueue: Send + Sync {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError>;
}

/// A job could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("the sync job could not be queued: {0}")]
pub struct QueueError(pub String);

/// The hand-off of new triggers, after their delivery was answered: a pending commit status at
/// GitLab and a `Build Triggered` event. On AWS the table's stream carries new triggers to a
/// function of their own, so enqueueing does nothing there; locally a background task takes them.
pub trait TriggerHandoff: Send + Sync {
    /// Never blocks and never fails the delivery: what cannot be handed off is logged.
    fn enqueue(&self, trigger: &Trigger);
    /// A stored trigger's state changed (a report, a claim GitLab refused): its commit status
    /// follows off the request path, after every earlier state of the same trigger. Never
    /// blocks. On AWS the table's stream does this: nothing to do.
    fn state_changed(&self, trigger: &Trigger) {
        let _ = trigger;
    }
}

/// Where `Build Triggered` events go (an EventBridge bus on AWS).
#[async_trait]
pub trait BuildEvents: Send + Sync {
    /// Publishes one event whose detail is `detail` (a trigger as the API shows it).
    async fn publish_build_triggered(&self, detail: &serde_json::Value) -> Result<(), EventsError>;
    /// Publishes that an integration's token expires soon or has expired.
    async fn publish_token_expiring(&self, detail: &serde_json::Value) -> Result<(), EventsError>;
}

/// An event could not be published.
#[derive(Debug, thiserror::Error)]
#[error("the event could not be published: {0}")]
pub struct EventsError(pub String);
