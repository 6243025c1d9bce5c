//! The table's stream as an inbound adapter: the records of new triggers, handed off one by one,
//! and the ones that failed reported back so Lambda retries only those.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::app::Services;
use crate::app::handoff::hand_off_trigger;
use crate::domain::trigger::Trigger;
use crate::ports::BuildEvents;

/// The item attributes that are keys, not the trigger's own fields.
const KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

/// The trigger a stream record's new image holds.
pub fn trigger_from_image(mut image: serde_dynamo::Item) -> Result<Trigger, serde_dynamo::Error> {
    for key in KEY_ATTRIBUTES {
        image.remove(key);
    }
    serde_dynamo::from_item(image)
}

/// Hands off every new trigger of a batch. A record that fails is reported as the batch's first
/// failure (with `ReportBatchItemFailures`, Lambda retries from there, in order).
pub async fn hand_off_records(services: &Services, events: &dyn BuildEvents, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let is_new_trigger = record.event_name == "INSERT"
            && record.change.keys.get("pk").and_then(|pk| match pk {
                serde_dynamo::AttributeValue::S(text) => Some(text.starts_with("TRIGGER#")),
                _ => None,
            }) == Some(true);
        if !is_new_trigger {
            continue;
        }
        let handed_off = match trigger_from_image(record.change.new_image.clone()) {
            Ok(trigger) => hand_off_trigger(services, Some(events), &trigger)
                .await
                .map_err(|e| e.to_string()),
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
