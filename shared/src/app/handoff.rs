//! What follows a trigger off the request path: its hand-off (the `pending` commit status at
//! GitLab, then the `Build Triggered` event for build systems that subscribe rather than poll),
//! and each later state shown at GitLab, in the order the states were stored.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::app::Services;
use crate::app::build_triggers::trigger_view;
use crate::app::claim_expiry::revoke_clone_credential;
use crate::app::commit_status::report_commit_status;
use crate::app::merge_request_notes::write_summary_note;
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

/// Shows a trigger's new state at GitLab: `running` or its final state, and once final revokes
/// its clone credential and updates its merge request's summary note (when notes are on).
/// Queued and claimed show as the `pending` its hand-off posted.
pub async fn show_state(services: &Services, trigger: &Trigger) {
    if !(trigger.status == TriggerStatus::Running || trigger.status.is_final()) {
        return;
    }
    report_commit_status(services, trigger, trigger.status.as_str()).await;
    if trigger.status.is_final() {
        revoke_clone_credential(services, trigger).await;
        write_summary_note(services, trigger).await;
    }
}

/// On AWS the table's stream hands new triggers and changed states to a function of their own:
/// nothing to do here.
pub struct StreamHandoff;

impl TriggerHandoff for StreamHandoff {
    fn enqueue(&self, _trigger: &Trigger) {}
}

/// What the local runner's hand-off does next for one trigger.
pub enum HandoffWork {
    New(Trigger),
    StateChanged(Trigger),
}

impl HandoffWork {
    fn trigger(&self) -> &Trigger {
        match self {
            HandoffWork::New(trigger) | HandoffWork::StateChanged(trigger) => trigger,
        }
    }
}

/// How many lanes hand off at once: enough to keep up with deliveries (each waits on GitLab).
/// A trigger always takes the same lane, so its states reach GitLab in the order stored.
const LANES: usize = 16;

/// In one process (the local runner): background lanes hand triggers off and show their states,
/// each trigger's work in order on its own lane.
pub struct BackgroundHandoff {
    lanes: Vec<mpsc::UnboundedSender<HandoffWork>>,
}

impl BackgroundHandoff {
    /// The hand-off and the receiving ends its lanes read; start them with [`run_worker`] once
    /// the services exist.
    pub fn new() -> (Arc<Self>, Vec<mpsc::UnboundedReceiver<HandoffWork>>) {
        let (lanes, receivers) = (0..LANES).map(|_| mpsc::unbounded_channel()).unzip();
        (Arc::new(BackgroundHandoff { lanes }), receivers)
    }

    fn send(&self, work: HandoffWork) {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(work.trigger().id.as_str(), &mut hasher);
        let lane = (std::hash::Hasher::finish(&hasher) % self.lanes.len() as u64) as usize;
        if let Err(unsent) = self.lanes[lane].send(work) {
            tracing::warn!(trigger_id = %unsent.0.trigger().id, "the hand-off has stopped; GitLab is not shown this state");
        }
    }
}

impl TriggerHandoff for BackgroundHandoff {
    fn enqueue(&self, trigger: &Trigger) {
        self.send(HandoffWork::New(trigger.clone()));
    }

    fn state_changed(&self, trigger: &Trigger) {
        self.send(HandoffWork::StateChanged(trigger.clone()));
    }
}

/// Runs every lane until its channel closes: each takes its work one piece at a time.
pub async fn run_worker(services: Services, lanes: Vec<mpsc::UnboundedReceiver<HandoffWork>>) {
    let running: Vec<_> = lanes
        .into_iter()
        .map(|mut lane| {
            let services = services.clone();
            tokio::spawn(async move {
                while let Some(work) = lane.recv().await {
                    match work {
                        HandoffWork::New(trigger) => {
                            if let Err(err) = hand_off_trigger(&services, None, &trigger).await {
                                tracing::warn!(trigger_id = %trigger.id, error = %err, "trigger hand-off failed");
                            }
                        }
                        HandoffWork::StateChanged(trigger) => show_state(&services, &trigger).await,
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(running).await;
}
