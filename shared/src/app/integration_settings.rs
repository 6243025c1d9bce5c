//! `update-integration` (`PATCH /v1/integrations/{id}`): the integration's own settings; today
//! whether its webhook deliveries must carry a Standard Webhooks signature.

use crate::app::{LookupError, Missing, Services};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::IntegrationRecord;

/// What a PATCH may change; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub require_webhook_signature: Option<bool>,
}

/// Applies `change` and answers the integration as stored. Requiring signatures takes effect for
/// the next delivery: the setting is written on the integration first, then on each of its
/// webhook keys, which is where a delivery reads it.
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn update_integration(
    services: &Services,
    id: &IntegrationId,
    change: &SettingsChange,
) -> Result<IntegrationRecord, LookupError> {
    services.integration(id).await?;
    let now = services.clock.now();
    let record = services
        .modify_integration(id, |record| {
            if let Some(required) = change.require_webhook_signature {
                record.require_webhook_signature = required;
            }
            record.updated_at = now;
        })
        .await?
        .ok_or(Missing::Integration)?;
    if change.require_webhook_signature.is_some() {
        services
            .webhooks
            .set_signature_requirement(&record.id, record.require_webhook_signature)
            .await?;
        tracing::info!(integration_id = %record.id, required = record.require_webhook_signature, "webhook signature requirement set");
    }
    Ok(record)
}
