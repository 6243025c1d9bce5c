//! The schedules as inbound adapters: the daily token check (an EventBridge schedule on AWS; the
//! local runner keeps its own timer).

use crate::app::Services;
use crate::app::token_expiry::{CheckSummary, check_all_tokens};
use crate::ports::{BuildEvents, StoreError};

/// One scheduled check, publishing on the bus; its summary is the invocation's answer.
///
/// # Errors
/// The integrations could not be listed: the invocation fails and EventBridge retries it.
pub async fn check_tokens(services: &Services, events: &dyn BuildEvents) -> Result<CheckSummary, StoreError> {
    check_all_tokens(services, Some(events)).await
}
