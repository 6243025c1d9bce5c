//! One handler per endpoint, each in the file named after its function (`functions/<name>`):
//! parse the request into typed input, call the use case of the same name, answer a typed body.

mod check_gitlab_token;
mod claim_build_trigger;
mod delete_group_webhook;
mod delete_integration;
mod get_build_trigger;
mod get_integration;
mod gitlab_authorize;
mod gitlab_callback;
mod gitlab_start;
mod gitlab_webhook;
mod list_build_triggers;
mod list_deliveries;
mod list_group_webhooks;
mod list_installations;
mod list_integrations;
mod list_repositories;
mod list_source_repositories;
mod register_group_webhook;
mod register_webhook;
mod replace_gitlab_token;
mod report_build_status;
mod repository_avatar;
mod rotate_integration_webhook_secret;
mod rotate_webhook_secret;
mod sync_installations;
mod update_integration;

use lambda_http::{Body, Response};

use crate::app::repositories::RepositoryQuery;
use crate::app::tokens::TokenHealth;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::routes::RouteId;
use crate::inbound::http::views::CredentialStatusResponse;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;

pub use crate::app::webhooks::MAX_WEBHOOK_BODY;

pub(super) async fn dispatch(app: &App, id: RouteId, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    match id {
        RouteId::GitLabStart => gitlab_start::gitlab_start(app, ctx).await,
        RouteId::GitLabAuthorize => gitlab_authorize::gitlab_authorize(app, ctx).await,
        RouteId::GitLabCallback => gitlab_callback::gitlab_callback(app, ctx).await,
        RouteId::ListIntegrations => list_integrations::list_integrations(app, ctx).await,
        RouteId::GetIntegration => get_integration::get_integration(app, ctx).await,
        RouteId::DeleteIntegration => delete_integration::delete_integration(app, ctx).await,
        RouteId::ListRepositories => list_repositories::list_repositories(app, ctx).await,
        RouteId::ListSourceRepositories => list_source_repositories::list_source_repositories(app, ctx).await,
        RouteId::RepositoryAvatar => repository_avatar::repository_avatar(app, ctx).await,
        RouteId::ListInstallations => list_installations::list_installations(app, ctx).await,
        RouteId::SyncInstallations => sync_installations::sync_installations(app, ctx).await,
        RouteId::CheckGitLabToken => check_gitlab_token::check_gitlab_token(app, ctx).await,
        RouteId::ReplaceGitLabToken => replace_gitlab_token::replace_gitlab_token(app, ctx).await,
        RouteId::GitLabWebhook => gitlab_webhook::gitlab_webhook(app, ctx).await,
        RouteId::RotateWebhookSecret => rotate_webhook_secret::rotate_webhook_secret(app, ctx).await,
        RouteId::RotateIntegrationWebhookSecret => {
            rotate_integration_webhook_secret::rotate_integration_webhook_secret(app, ctx).await
        }
        RouteId::UpdateIntegration => update_integration::update_integration(app, ctx).await,
        RouteId::RegisterWebhook => register_webhook::register_webhook(app, ctx).await,
        RouteId::RegisterGroupWebhook => register_group_webhook::register_group_webhook(app, ctx).await,
        RouteId::ListGroupWebhooks => list_group_webhooks::list_group_webhooks(app, ctx).await,
        RouteId::DeleteGroupWebhook => delete_group_webhook::delete_group_webhook(app, ctx).await,
        RouteId::ListDeliveries => list_deliveries::list_deliveries(app, ctx).await,
        RouteId::ListBuildTriggers => list_build_triggers::list_build_triggers(app, ctx).await,
        RouteId::GetBuildTrigger => get_build_trigger::get_build_trigger(app, ctx).await,
        RouteId::ClaimBuildTrigger => claim_build_trigger::claim_build_trigger(app, ctx).await,
        RouteId::ReportBuildStatus => report_build_status::report_build_status(app, ctx).await,
        RouteId::CorsPreflight => {
            crate::inbound::http::cors::preflight(&app.services.config, &ctx.headers, &ctx.path_id::<String>()?)
        }
    }
}

/// A text field that must be present and not blank, trimmed.
fn required(value: Option<String>, message: impl FnOnce() -> String) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid_input(message()))
}

/// `q`, `limit` (1–100, default 20) and `offset`.
fn repository_query(ctx: &Ctx) -> Result<RepositoryQuery, ApiError> {
    Ok(RepositoryQuery {
        q: ctx
            .query
            .get("q")
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
        limit: ctx.query_int("limit", 20, 1, 100)? as usize,
        offset: ctx.query_int("offset", 0, 0, i64::MAX)? as usize,
    })
}

/// The contract's `GitLabCredentialResponse`.
fn credential_status(health: TokenHealth) -> Response<Body> {
    json(
        StatusCode::OK,
        &CredentialStatusResponse {
            status: health.status,
            expires_at: health.expires_at,
            checked_at: health.checked_at,
        },
    )
}
