//! `POST /v1/integrations/{id}/installations` (`sync-installations`): re-sync repositories, and
//! show what each group hook of ours covers.

use lambda_http::{Body, Response};

use crate::app::hooks::groups::group_hook_coverage;
use crate::app::installations;
use crate::app::installations::SyncInstallationsError;
use crate::app::sync::jobs::SyncJobError;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::INACTIVE;
use crate::inbound::http::errors::RECONNECT;
use crate::inbound::http::errors::conflict;
use crate::inbound::http::errors::gitlab_unavailable_because;
use crate::inbound::http::views::InstallationListResponse;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::{Deserialize, Serialize};

pub(super) async fn sync_installations(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: SyncRequest = ctx.json()?;
    let installation_id = request.installation_id.as_deref().filter(|s| !s.is_empty());
    let id = ctx.path_id()?;
    let installations = installations::sync_installations(&app.services, &id, installation_id).await?;
    let group_hooks = group_hook_coverage(&app.services, &id).await?;
    Ok(json(
        StatusCode::OK,
        &SyncResponse {
            listed: InstallationListResponse {
                installations: installations.iter().map(Into::into).collect(),
            },
            group_hooks: group_hooks
                .iter()
                .map(|c| CoverageView {
                    hook_id: c.hook.hook_id,
                    group_id: c.hook.group_id,
                    full_path: c.hook.full_path.clone(),
                    covered_projects: c.projects,
                })
                .collect(),
        },
    ))
}

/// The installations, and how many stored projects each of our group hooks covers (only when
/// there are group hooks: the daemon's answer has no such field).
#[derive(Debug, Serialize)]
struct SyncResponse {
    #[serde(flatten)]
    listed: InstallationListResponse,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_hooks: Vec<CoverageView>,
}

#[derive(Debug, Serialize)]
struct CoverageView {
    hook_id: u64,
    group_id: u64,
    full_path: String,
    covered_projects: usize,
}

/// `POST /v1/integrations/{id}/installations`.
#[derive(Debug, Deserialize, Default)]
pub struct SyncRequest {
    pub installation_id: Option<String>,
}

impl From<SyncInstallationsError> for ApiError {
    fn from(err: SyncInstallationsError) -> Self {
        match err {
            SyncInstallationsError::Lookup(err) => err.into(),
            SyncInstallationsError::Inactive => conflict("integration_inactive", INACTIVE),
            SyncInstallationsError::Credentials(err) => err.into(),
            SyncInstallationsError::ReconnectRequired(err) => {
                conflict("gitlab_reconnect_required", RECONNECT).with_details(err.to_string())
            }
            SyncInstallationsError::GitLabUnavailable(reason) => gitlab_unavailable_because("gitlab_api_error", reason),
            SyncInstallationsError::SyncFailed(err) => {
                tracing::error!(error = %err, "a repository sync failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sync_failed",
                    "the repository sync could not run; try again shortly",
                )
            }
            SyncInstallationsError::Store(err) => err.into(),
            SyncInstallationsError::Job(SyncJobError::Store(err)) => err.into(),
            SyncInstallationsError::Job(SyncJobError::Vault(err)) => err.into(),
            SyncInstallationsError::Job(SyncJobError::Queue(err)) => {
                tracing::error!(error = %err, "a sync job could not be queued");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sync_unavailable",
                    "the repository sync could not be started; try again shortly",
                )
            }
        }
    }
}
