//! `GET /v1/build-triggers/{id}` (`get-build-trigger`).

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::TriggerResponse;
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::build_triggers;

pub(super) async fn get_build_trigger(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let trigger = build_triggers::get_build_trigger(&app.services, &ctx.path_id()?).await?;
    Ok(json(StatusCode::OK, &TriggerResponse { trigger }))
}
