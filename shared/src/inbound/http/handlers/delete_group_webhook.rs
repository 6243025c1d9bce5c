//! `DELETE /v1/integrations/{id}/gitlab-group-webhooks/{hook_id}` (`delete-group-webhook`): our
//! group hook removed at GitLab and here, its secret retired.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::app::hooks::groups;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, MissingPathParameter, json};
use http::StatusCode;

pub(super) async fn delete_group_webhook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let hook_id = ctx.params.get(1).ok_or(MissingPathParameter)?;
    let hook_id: u64 = hook_id
        .parse()
        .map_err(|_| ApiError::invalid_input("the hook id is a GitLab hook id (a positive number)"))?;
    groups::delete_group_hook(&app.services, &ctx.path_id()?, hook_id).await?;
    Ok(json(StatusCode::OK, &Deleted { deleted: true, hook_id }))
}

#[derive(Debug, Serialize)]
struct Deleted {
    deleted: bool,
    hook_id: u64,
}
