//! `POST /v1/integrations/{id}/gitlab-token/check` (`check-gitlab-token`).

use lambda_http::{Body, Response};

use crate::app::tokens;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::credential_status;
use crate::inbound::http::{App, Ctx};

pub(super) async fn check_gitlab_token(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let health = tokens::check_gitlab_token(&app.services, &ctx.path_id()?).await?;
    Ok(credential_status(health))
}
