//! `POST /v1/integrations/{id}/installations` (`sync-installations`): re-sync repositories.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::installations;
use crate::inbound::http::bodies::{InstallationListResponse, SyncRequest};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

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
