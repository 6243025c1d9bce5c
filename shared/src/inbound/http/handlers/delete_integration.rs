//! `DELETE /v1/integrations/{id}` (`delete-integration`).

use lambda_http::{Body, Response};

use crate::app::integrations;
use crate::app::integrations::DeleteError;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::conflict;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

pub(super) async fn delete_integration(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    integrations::delete_integration(&app.services, &ctx.path_id()?).await?;
    Ok(json(StatusCode::OK, &OkResponse { ok: true }))
}

#[derive(Debug, Serialize)]
pub struct OkResponse {
    pub ok: bool,
}

impl From<DeleteError> for ApiError {
    fn from(err: DeleteError) -> Self {
        match err {
            DeleteError::Lookup(err) => err.into(),
            DeleteError::ActiveBuilds => conflict(
                "integration_has_active_builds",
                "builds of this integration are claimed or running; let them finish or cancel them first",
            ),
            DeleteError::Store(err) => err.into(),
            DeleteError::Vault(err) => err.into(),
        }
    }
}
