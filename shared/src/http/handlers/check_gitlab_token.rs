//! `POST /v1/integrations/{id}/gitlab-token/check` (`check-gitlab-token`).

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::CredentialStatusResponse;
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::tokens::{self, TokenHealth};

/// The contract's `GitLabCredentialResponse`, shared with `replace-gitlab-token`.
pub(super) fn credential_status(health: TokenHealth) -> Response<Body> {
    json(
        StatusCode::OK,
        &CredentialStatusResponse {
            status: health.status,
            expires_at: health.expires_at,
            checked_at: health.checked_at,
        },
    )
}

pub(super) async fn check_gitlab_token(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let health = tokens::check_gitlab_token(&app.services, &ctx.path_id()?).await?;
    Ok(credential_status(health))
}
