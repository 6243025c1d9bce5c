//! The schedules as inbound adapters: the daily token check and the claim expiry (EventBridge
//! schedules on AWS; the local runner keeps timers of its own).

use crate::app::Services;
use crate::app::claim_expiry::requeue_expired_claims;
use crate::app::token_expiry::{CheckSummary, check_all_tokens};
use crate::ports::{BuildEvents, StoreError};

/// One scheduled check, publishing on the bus; its summary is the invocation's answer.
///
/// # Errors
/// The integrations could not be listed: the invocation fails and EventBridge retries it.
pub async fn check_tokens(services: &Services, events: &dyn BuildEvents) -> Result<CheckSummary, StoreError> {
    check_all_tokens(services, Some(events)).await
}

/// What one run of the claim expiry did (the scheduled function's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExpiredClaims {
    /// Triggers queued again, their clone credentials revoked.
    pub requeued: usize,
}

/// Queues again every trigger whose claim ran out, with nobody polling the queue.
///
/// # Errors
/// A storage failure: the invocation fails and the next minute's run takes up the rest.
pub async fn expire_claims(services: &Services) -> Result<ExpiredClaims, StoreError> {
    Ok(ExpiredClaims {
        requeued: requeue_expired_claims(services).await?,
    })
}
