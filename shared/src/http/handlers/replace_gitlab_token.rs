//! `PUT /v1/integrations/{id}/gitlab-token` (`replace-gitlab-token`).

use lambda_http::{Body, Response};
use secrecy::SecretString;

use super::super::bodies::ReplaceTokenRequest;
use super::super::envelope::ApiError;
use super::super::{App, Ctx};
use super::{credential_status, required};
use crate::app::tokens;

pub(super) async fn replace_gitlab_token(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: ReplaceTokenRequest = ctx.json()?;
    let token = SecretString::from(required(request.access_token, || "`access_token` is required".into())?);
    let health = tokens::replace_gitlab_token(&app.services, &ctx.path_id()?, token).await?;
    Ok(credential_status(health))
}
