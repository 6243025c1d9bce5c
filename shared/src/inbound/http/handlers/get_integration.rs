//! `GET /v1/integrations/{id}` (`get-integration`): an integration with its counts.

use lambda_http::{Body, Response};

use crate::app::commit_status::StatusReporting;
use crate::app::integrations;
use crate::domain::credential::CredentialStatus;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::IntegrationView;
use crate::inbound::http::views::SyncView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

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

#[derive(Debug, Serialize)]
pub struct IntegrationDetailResponse {
    pub integration: IntegrationView,
    pub installation_count: usize,
    pub repository_count: usize,
    pub last_webhook_at: Option<i64>,
    pub status_reporting: StatusReporting,
    pub sync: Option<SyncView>,
    /// Deliveries without a valid Standard Webhooks signature are refused.
    pub require_webhook_signature: bool,
    /// The contract's `GitLabCredentialStatus` of the integration's token, now.
    pub token_status: CredentialStatus,
    /// When the token expires (Unix seconds); `null` for OAuth and tokens without an expiry.
    pub token_expires_at: Option<i64>,
}
