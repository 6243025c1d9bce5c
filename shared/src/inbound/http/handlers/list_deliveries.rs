//! `GET /v1/integrations/{id}/deliveries?limit&cursor` (`list-deliveries`): the delivery log,
//! newest first. qa_viewer may read integrations but not their deliveries.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::cursors::decode_cursor;
use crate::app::deliveries;
use crate::inbound::http::auth::Role;
use crate::inbound::http::bodies::DeliveryListResponse;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

pub(super) async fn list_deliveries(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    if ctx.caller.as_ref().is_some_and(|c| c.role == Role::QaViewer) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "your role may not read webhook deliveries",
        ));
    }
    let limit = ctx.query_int("limit", 20, 1, 100)? as usize;
    let cursor = match ctx.query.get("cursor").map(String::as_str).filter(|c| !c.is_empty()) {
        Some(c) => Some(
            decode_cursor(c).ok_or_else(|| ApiError::invalid_request("`cursor` is not one this endpoint gave out"))?,
        ),
        None => None,
    };
    let page = deliveries::list_deliveries(&app.services, &ctx.path_id()?, limit, cursor.as_deref()).await?;
    Ok(json(
        StatusCode::OK,
        &DeliveryListResponse {
            deliveries: page.deliveries.iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        },
    ))
}
