//! `DELETE /v1/integrations/{id}` (`delete-integration`).

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::OkResponse;
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::integrations;

pub(super) async fn delete_integration(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    integrations::delete_integration(&app.services, &ctx.path_id()?).await?;
    Ok(json(StatusCode::OK, &OkResponse { ok: true }))
}
