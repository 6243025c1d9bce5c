//! One handler per endpoint, and the lookups they share.

mod credentials;
mod installations;
mod integrations;
mod oauth;
mod repositories;
mod start;
mod token;
mod webhook;
mod webhook_admin;

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::SecretString;

use super::error::ApiError;
use super::routes::RouteId;
use super::{App, Ctx};
use crate::domain::integration::IntegrationRecord;
use crate::ports::GitLabError;

use credentials::access_token;
pub use start::StartResponse;
pub use webhook::MAX_WEBHOOK_BODY;

pub(super) async fn dispatch(app: &App, id: RouteId, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    match id {
        RouteId::GitLabStart => start::handle(app, ctx).await,
        RouteId::GitLabAuthorize => oauth::authorize(app, ctx).await,
        RouteId::GitLabCallback => oauth::callback(app, ctx).await,
        RouteId::ListIntegrations => integrations::list(app, ctx).await,
        RouteId::GetIntegration => integrations::detail(app, ctx).await,
        RouteId::DeleteIntegration => integrations::delete(app, ctx).await,
        RouteId::ListRepositories => repositories::list(app, ctx).await,
        RouteId::ListSourceRepositories => repositories::list_all(app, ctx).await,
        RouteId::RepositoryAvatar => repositories::avatar(app, ctx).await,
        RouteId::ListInstallations => installations::list(app, ctx).await,
        RouteId::SyncInstallations => installations::sync(app, ctx).await,
        RouteId::CheckGitLabToken => token::check(app, ctx).await,
        RouteId::ReplaceGitLabToken => token::replace(app, ctx).await,
        RouteId::GitLabWebhook => webhook::receive(app, ctx).await,
        RouteId::RotateWebhookSecret => webhook_admin::rotate_repository_secret(app, ctx).await,
        RouteId::RegisterWebhook => webhook_admin::register_hook(app, ctx).await,
        RouteId::ListDeliveries => webhook_admin::list_deliveries(app, ctx).await,
        RouteId::CorsPreflight => super::cors::preflight(&app.config, &ctx.headers, ctx.id()),
    }
}

/// The integration, or 404.
async fn integration_or_404(app: &App, id: &str) -> Result<IntegrationRecord, ApiError> {
    app.integrations.get_integration(id).await?.ok_or_else(|| ApiError::not_found("integration"))
}

/// The master key webhook signing keys and PKCE verifiers derive from (cached vault read).
async fn master_key(app: &App) -> Result<SecretString, ApiError> {
    app.vault.get_secret(&app.config.master_key_secret_id).await?.ok_or_else(|| {
        tracing::error!("the master key is missing from the vault");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "secrets_unavailable", "the service's master key is not configured")
    })
}

/// GitLab being down, slow or odd: 502 with the contract's code.
fn gitlab_unavailable(code: &'static str, err: &GitLabError) -> ApiError {
    tracing::warn!(error = %err, "GitLab request failed");
    ApiError::new(StatusCode::BAD_GATEWAY, code, "GitLab could not be reached or answered with an error; try again later").with_details(err.to_string())
}
