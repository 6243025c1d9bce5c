//! `GET /v1/integrations/{id}/installations` (`list-installations`).

use lambda_http::{Body, Response};

use crate::app::installations;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::InstallationListResponse;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;

pub(super) async fn list_installations(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let installations = installations::list_installations(&app.services, &ctx.path_id()?).await?;
    Ok(json(
        StatusCode::OK,
        &InstallationListResponse {
            installations: installations.iter().map(Into::into).collect(),
        },
    ))
}
