//! The hand-off of a new trigger, off the webhook's request path: the `pending` commit status at
//! GitLab, then the `Build Triggered` event for build systems that subscribe rather than poll.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::app::Services;
use crate::app::build_triggers::trigger_view;
use crate::app::commit_status::report_commit_status;
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::ports::{BuildEvents, EventsError, StoreError, TriggerHandoff};

/// Why a trigger's hand-off must be tried again.
///
/// # Errors
/// - `Store`: the trigger or its repository could not be read.
/// - `Events`: the event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Events(#[from] EventsError),
}

/// Hands one new trigger off: `pending` at GitLab while it is still queued (a fast build system
/// may already have moved it on), then its event, when there is a bus.
pub async fn hand_off_trigger(
    services: &Services,
    events: Option<&dyn BuildEvents>,
    trigger: &Trigger,
) -> Result<(), HandoffError> {
    let current = services.triggers.get_trigger(&trigger.id).await?;
    if current.as_ref().is_some_and(|t| t.status == TriggerStatus::Queued) {
        report_commit_status(services, trigger, "pending").await;
    }
    if let Some(events) = events {
        let view = trigger_view(services, trigger).await?;
        let detail = serde_json::to_value(&view).map_err(|e| EventsError(e.to_string()))?;
        events.publish_build_triggered(&detail).await?;
    }
    Ok(())
}

/// On AWS the table's stream hands new triggers to a function of their own: nothing to do here.
pub struct StreamHandoff;

impl TriggerHandoff for StreamHandoff {
    fn enqueue(&self, _trigger: &Trigger) {}
}

/// In one process (the local runner): a background task hands triggers off in order.
pub struct BackgroundHandoff {
    sender: mpsc::UnboundedSender<Trigger>,
}

impl BackgroundHandoff {
    /// The hand-off and the receiving end its worker reads; start the worker with [`run_worker`]
    /// once the services exist.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<Trigger>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Arc::new(BackgroundHandoff { sender }), receiver)
    }
}

impl TriggerHandoff for BackgroundHandoff {
    fn enqueue(&self, trigger: &Trigger) {
        if self.sender.send(trigger.clone()).is_err() {
            tracing::warn!(trigger_id = %trigger.id, "the hand-off worker has stopped; no pending status for this trigger");
        }
    }
}

/// How many hand-offs run at once: enough to keep up with deliveries (each waits on GitLab), so
/// triggers do not pile up in the channel under load.
const HANDOFFS_AT_ONCE: usize = 16;

/// Hands off every trigger the channel brings, until it closes.
pub async fn run_worker(services: Services, mut receiver: mpsc::UnboundedReceiver<Trigger>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(HANDOFFS_AT_ONCE));
    while let Some(trigger) = receiver.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let services = services.clone();
        tokio::spawn(async move {
            if let Err(err) = hand_off_trigger(&services, None, &trigger).await {
                tracing::warn!(trigger_id = %trigger.id, error = %err, "trigger hand-off failed");
            }
            drop(slot);
        });
    }
}
