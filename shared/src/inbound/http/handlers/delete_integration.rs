//! `DELETE /v1/integrations/{id}` (`delete-integration`).

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::integrations;
use crate::inbound::http::bodies::OkResponse;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

pub(super) async fn delete_integration(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    integrations::delete_integration(&app.services, &ctx.path_id()?).await?;
    Ok(json(StatusCode::OK, &OkResponse { ok: true }))
}
