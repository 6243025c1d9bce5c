//! The table's stream as an inbound adapter: new triggers handed off and changed states shown
//! at GitLab, one record after another (the stream keeps each trigger's records in the order
//! they were written), and the ones that failed reported back so Lambda retries only those.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::adapters::dynamodb::{is_trigger_item, trigger_from_image};
use crate::app::Services;
use crate::app::handoff::{hand_off_trigger, show_state};
use crate::ports::BuildEvents;

/// Hands off every new trigger of a batch and shows every changed state. A record that fails is reported as the batch's first
/// failure (with `ReportBatchItemFailures`, Lambda retries from there, in order).
pub async fn hand_off_records(services: &Services, events: &dyn BuildEvents, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let inserted = record.event_name == "INSERT";
        if !(inserted || record.event_name == "MODIFY") || !is_trigger_item(&record.change.keys) {
            continue;
        }
        let handed_off = match trigger_from_image(record.change.new_image.clone()) {
            Ok(Some(trigger)) if inserted => hand_off_trigger(services, Some(events), &trigger)
                .await
                .map_err(|e| e.to_string()),
            Ok(Some(trigger)) => {
                show_state(services, &trigger).await;
                Ok(())
            }
            // A build marker of a trigger stored before: nothing new to hand off.
            Ok(None) => Ok(()),
            // A record we cannot read will not read better on a retry.
            Err(err) => {
                tracing::error!(event_id = %record.event_id, error = %err, "a trigger record could not be read; skipped");
                Ok(())
            }
        };
        if let Err(err) = handed_off {
            tracing::warn!(event_id = %record.event_id, error = %err, "trigger hand-off failed; the stream retries it");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            // Later records are retried with it: they are handed off in order.
            break;
        }
    }
    response
}
