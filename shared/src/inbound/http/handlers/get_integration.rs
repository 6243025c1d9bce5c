//! `GET /v1/integrations/{id}` (`get-integration`): an integration with its counts.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::integrations;
use crate::inbound::http::bodies::IntegrationDetailResponse;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

pub(super) async fn get_integration(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let detail = integrations::get_integration(&app.services, &ctx.path_id()?).await?;
    Ok(json(
        StatusCode::OK,
        &IntegrationDetailResponse {
            integration: (&detail.integration).into(),
            installation_count: detail.installation_count,
            repository_count: detail.repository_count,
            last_webhook_at: detail.last_webhook_at,
            status_reporting: detail.status_reporting,
            sync: detail.sync.as_ref().map(Into::into),
            require_webhook_signature: detail.integration.require_webhook_signature,
            token_status: detail.token_status,
            token_expires_at: detail.token_expires_at,
        },
    ))
}
