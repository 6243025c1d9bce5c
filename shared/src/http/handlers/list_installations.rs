//! `GET /v1/integrations/{id}/installations` (`list-installations`).

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::InstallationListResponse;
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::installations;

pub(super) async fn list_installations(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let installations = installations::list_installations(&app.services, &ctx.path_id()?).await?;
    Ok(json(
        StatusCode::OK,
        &InstallationListResponse {
            installations: installations.iter().map(Into::into).collect(),
        },
    ))
}
