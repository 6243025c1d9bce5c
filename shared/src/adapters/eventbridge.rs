//! `Build Triggered` and `Token Expiring` events on an EventBridge bus (source `oore.gitlab`).

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::ports::{BuildEvents, EventsError};

/// The events' source and detail type, what bus rules match on.
pub const SOURCE: &str = "oore.gitlab";
pub const BUILD_TRIGGERED: &str = "Build Triggered";
pub const TOKEN_EXPIRING: &str = "Token Expiring";

/// Publishes to one bus.
pub struct EventBridgeEvents {
    client: Client,
    bus: String,
}

impl EventBridgeEvents {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgeEvents {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl BuildEvents for EventBridgeEvents {
    async fn publish_build_triggered(&self, detail: &serde_json::Value) -> Result<(), EventsError> {
        self.publish(BUILD_TRIGGERED, detail).await
    }

    async fn publish_token_expiring(&self, detail: &serde_json::Value) -> Result<(), EventsError> {
        self.publish(TOKEN_EXPIRING, detail).await
    }
}

impl EventBridgeEvents {
    async fn publish(&self, detail_type: &str, detail: &serde_json::Value) -> Result<(), EventsError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventsError(DisplayErrorContext(&e).to_string()))?;
        // PutEvents answers 200 with per-entry failures.
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(EventsError(format!("EventBridge refused the event: {why}")));
        }
        Ok(())
    }
}
