//! `PATCH /v1/integrations/{id}` (`update-integration`): the integration's settings.

use lambda_http::{Body, Response};

use crate::app::integration_settings::{self, SettingsChange};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::IntegrationView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Deserialize;
use serde::Serialize;

pub(super) async fn update_integration(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: UpdateIntegrationRequest = ctx.json()?;
    if request.require_webhook_signature.is_none() {
        return Err(ApiError::invalid_input(
            "nothing to change: send `require_webhook_signature` (true or false)",
        ));
    }
    let change = SettingsChange {
        require_webhook_signature: request.require_webhook_signature,
    };
    let record = integration_settings::update_integration(&app.services, &ctx.path_id()?, &change).await?;
    Ok(json(
        StatusCode::OK,
        &IntegrationSettingsResponse {
            integration: (&record).into(),
            require_webhook_signature: record.require_webhook_signature,
        },
    ))
}

/// `PATCH /v1/integrations/{id}`: the settings to change (at least one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegrationRequest {
    pub require_webhook_signature: Option<bool>,
}

/// The integration with its settings, as a PATCH left them.
#[derive(Debug, Serialize)]
pub struct IntegrationSettingsResponse {
    pub integration: IntegrationView,
    pub require_webhook_signature: bool,
}
