//! `PUT /v1/integrations/{id}/gitlab-token` (`replace-gitlab-token`).

use lambda_http::{Body, Response};
use secrecy::SecretString;

use crate::app::tokens;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::{credential_status, required};
use crate::inbound::http::{App, Ctx};
use serde::Deserialize;

pub(super) async fn replace_gitlab_token(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: ReplaceTokenRequest = ctx.json()?;
    let token = SecretString::from(required(request.access_token, || "`access_token` is required".into())?);
    let health = tokens::replace_gitlab_token(&app.services, &ctx.path_id()?, token).await?;
    Ok(credential_status(health))
}

/// `PUT /v1/integrations/{id}/gitlab-token`.
#[derive(Debug, Deserialize)]
pub struct ReplaceTokenRequest {
    pub access_token: Option<String>,
}
