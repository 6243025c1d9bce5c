//! `POST /v1/integrations/{id}/installations` (`sync-installations`): re-sync repositories.

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::{InstallationListResponse, SyncRequest};
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::installations;

pub(super) async fn sync_installations(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: SyncRequest = ctx.json()?;
    let installation_id = request.installation_id.as_deref().filter(|s| !s.is_empty());
    let installations = installations::sync_installations(&app.services, &ctx.path_id()?, installation_id).await?;
    Ok(json(
        StatusCode::OK,
        &InstallationListResponse {
            installations: installations.iter().map(Into::into).collect(),
        },
    ))
}
