//! `GET /v1/integrations/{id}/gitlab-group-webhooks` (`list-group-webhooks`): the group hooks we
//! registered, with their health as the last sync read it.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::app::hooks::groups;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::register_group_webhook::GroupHookView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;

pub(super) async fn list_group_webhooks(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let hooks = groups::list_group_hooks(&app.services, &ctx.path_id()?).await?;
    Ok(json(
        StatusCode::OK,
        &GroupHookListResponse {
            hooks: hooks.iter().map(GroupHookView::from).collect(),
        },
    ))
}

#[derive(Debug, Serialize)]
pub struct GroupHookListResponse {
    pub hooks: Vec<GroupHookView>,
}
