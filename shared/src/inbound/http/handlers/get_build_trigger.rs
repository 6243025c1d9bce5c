//! `GET /v1/build-triggers/{id}` (`get-build-trigger`).

use lambda_http::{Body, Response};

use crate::app::build_triggers;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::TriggerResponse;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;

pub(super) async fn get_build_trigger(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let trigger = build_triggers::get_build_trigger(&app.services, &ctx.path_id()?).await?;
    Ok(json(StatusCode::OK, &TriggerResponse { trigger }))
}
