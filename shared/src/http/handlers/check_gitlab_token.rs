//! `POST /v1/integrations/{id}/gitlab-token/check` (`check-gitlab-token`).

use lambda_http::{Body, Response};

use super::super::envelope::ApiError;
use super::super::{App, Ctx};
use super::credential_status;
use crate::app::tokens;

pub(super) async fn check_gitlab_token(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let health = tokens::check_gitlab_token(&app.services, &ctx.path_id()?).await?;
    Ok(credential_status(health))
}
