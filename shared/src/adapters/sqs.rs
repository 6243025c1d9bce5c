//! Sync jobs on an SQS queue: the sync worker function is fed from it, and a job that keeps
//! failing moves to its dead-letter queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::ports::{QueueError, SyncJob, SyncQueue};

pub struct SqsSyncQueue {
    client: Client,
    url: String,
}

impl SqsSyncQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsSyncQueue {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl SyncQueue for SqsSyncQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
