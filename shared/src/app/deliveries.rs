//! `list-deliveries`: an integration's webhook delivery log, newest first.

use crate::app::{LookupError, Services};
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::IntegrationId;

/// A page of the delivery log and the cursor of the next page, if there is one.
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryRecord>,
    pub next_cursor: Option<String>,
}

/// Up to `limit` deliveries of the integration, continuing after the log position `after`;
/// the next page's cursor is opaque (see [`crate::app::cursors`]).
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn list_deliveries(
    services: &Services,
    id: &IntegrationId,
    limit: usize,
    after: Option<&str>,
) -> Result<DeliveryPage, LookupError> {
    let integration = services.integration(id).await?;
    let (deliveries, next_position) = services.webhooks.list_deliveries(&integration.id, limit, after).await?;
    Ok(DeliveryPage {
        deliveries,
        next_cursor: next_position.as_deref().map(crate::app::cursors::encode_cursor),
    })
}
