//! `PATCH /v1/integrations/{id}` (`update-integration`): the integration's settings.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::integration_settings::{self, SettingsChange};
use crate::inbound::http::bodies::{IntegrationSettingsResponse, UpdateIntegrationRequest};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

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
