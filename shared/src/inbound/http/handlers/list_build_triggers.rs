//! `GET /v1/build-triggers?status&integration_id&limit&cursor` (`list-build-triggers`): the
//! trigger queue, oldest first.

use lambda_http::{Body, Response};

use crate::app::build_triggers;
use crate::app::build_triggers::TriggerView;
use crate::app::cursors::decode_cursor;
use crate::domain::trigger::TriggerStatus;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use crate::ports::TriggerFilter;
use http::StatusCode;
use serde::Serialize;

pub(super) async fn list_build_triggers(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let text = |name: &str| ctx.query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let status = text("status")
        .map(|s| {
            TriggerStatus::parse(s).ok_or_else(|| {
                ApiError::invalid_input(
                    "`status` must be queued, claimed, running, success, failed, canceled or skipped",
                )
            })
        })
        .transpose()?;
    let limit = ctx.query_int("limit", 50, 1, 200)? as usize;
    let cursor = text("cursor")
        .map(|c| {
            decode_cursor(c).ok_or_else(|| ApiError::invalid_request("`cursor` is not one this endpoint gave out"))
        })
        .transpose()?;
    let filter = TriggerFilter {
        status,
        integration_id: text("integration_id").map(Into::into),
    };
    let page = build_triggers::list_build_triggers(&app.services, &filter, cursor.as_deref(), limit).await?;
    Ok(json(
        StatusCode::OK,
        &TriggerListResponse {
            triggers: page.triggers,
            next_cursor: page.next_cursor,
        },
    ))
}

#[derive(Debug, Serialize)]
pub struct TriggerListResponse {
    pub triggers: Vec<TriggerView>,
    pub next_cursor: Option<String>,
}
