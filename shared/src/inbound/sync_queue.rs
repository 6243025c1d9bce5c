//! The sync queue as an inbound adapter: SQS messages become sync jobs; the ones that failed
//! are reported back by message id so only they are retried.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tokio::time::Instant;

use crate::app::Services;
use crate::app::sync::jobs::run_job;
use crate::ports::SyncJob;

/// Runs each message's job; answers the ids of those that failed.
pub async fn run_messages(services: &Services, event: SqsEvent, deadline: Option<Instant>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let job: SyncJob = match message.body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            // A message that is not a job never will be: drop it, loudly.
            _ => {
                tracing::error!(message_id = %id, "a sync queue message is not a sync job; dropped");
                continue;
            }
        };
        if let Err(err) = run_job(services, &job, deadline).await {
            tracing::warn!(message_id = %id, integration_id = %job.integration_id, error = %err, "sync job failed; SQS retries it");
            response.add_failure(id);
        }
    }
    response
}
