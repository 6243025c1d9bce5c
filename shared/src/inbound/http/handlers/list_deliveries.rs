//! `GET /v1/integrations/{id}/deliveries?limit&cursor` (`list-deliveries`): the delivery log,
//! newest first. qa_viewer may read integrations but not their deliveries.

use lambda_http::{Body, Response};

use crate::app::cursors::decode_cursor;
use crate::app::deliveries;
use crate::domain::delivery::DeliveryOutcome;
use crate::domain::delivery::DeliveryRecord;
use crate::domain::ids::ProjectId;
use crate::domain::ids::RepositoryId;
use crate::domain::ids::TriggerId;
use crate::inbound::http::auth::Role;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

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

/// One entry of the delivery log.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    /// The dedupe key the delivery was recorded under.
    pub delivery_id: String,
    pub event: String,
    pub project_id: Option<ProjectId>,
    pub repository_id: Option<RepositoryId>,
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub trigger_id: Option<TriggerId>,
    pub received_at: i64,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id.clone(),
            delivery_id: d.delivery_key.clone(),
            event: d.event.clone(),
            project_id: d.project_id,
            repository_id: d.repository_id.clone(),
            outcome: d.outcome,
            reason: d.reason.clone(),
            trigger_id: d.trigger_id.clone(),
            received_at: d.received_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryListResponse {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}
