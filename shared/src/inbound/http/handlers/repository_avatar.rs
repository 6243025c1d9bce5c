//! `GET /v1/integration-repositories/{id}/avatar` (`repository-avatar`): a project avatar,
//! fetched with the integration's token.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx};

pub(super) async fn repository_avatar(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let image = repositories::repository_avatar(&app.services, &ctx.path_id()?).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", image.content_type)
        .header("cache-control", "private, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .body(Body::Binary(image.bytes.to_vec()))
        .unwrap_or_default())
}
