//! `POST /v1/integration-repositories/{id}/gitlab-webhook` (`register-webhook`): the project hook
//! at GitLab, created or updated with a fresh secret; none where a group hook of ours covers
//! the project.

use lambda_http::{Body, Response};

use crate::app::hooks::admin;
use crate::app::hooks::admin::{RegisterHookError, Registration};
use crate::domain::ids::RepositoryId;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::bad_request;
use crate::inbound::http::errors::gitlab_unavailable;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

pub(super) async fn register_webhook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let webhook_url = ctx.webhook_url();
    let hook = match admin::register_webhook(&app.services, &ctx.path_id()?, &webhook_url).await? {
        Registration::Registered(hook) => hook,
        Registration::Covered {
            repository_id,
            group_hook_id,
        } => {
            let covered = CoveredResponse {
                repository_id,
                covered_by_group_hook: group_hook_id,
                webhook_url,
            };
            return Ok(json(StatusCode::OK, &covered));
        }
    };
    Ok(json(
        StatusCode::OK,
        &RegisteredHookResponse {
            repository_id: hook.repository_id,
            hook_id: hook.hook_id,
            created: hook.created,
            webhook_url,
            rotated_at: hook.rotated_at,
            alert_status: hook.alert_status,
        },
    ))
}

/// The answer when a group hook of ours already covers the project.
#[derive(Debug, Serialize)]
pub struct CoveredResponse {
    pub repository_id: RepositoryId,
    /// The id of the group hook that sends the project's deliveries.
    pub covered_by_group_hook: u64,
    pub webhook_url: String,
}

#[derive(Debug, Serialize)]
pub struct RegisteredHookResponse {
    pub repository_id: RepositoryId,
    pub hook_id: u64,
    pub created: bool,
    pub webhook_url: String,
    /// GitLab's `alert_status` after registering (`executable` once delivering).
    pub alert_status: Option<String>,
    pub rotated_at: i64,
}

impl From<RegisterHookError> for ApiError {
    fn from(err: RegisterHookError) -> Self {
        match err {
            RegisterHookError::Lookup(err) => err.into(),
            RegisterHookError::Credentials(err) => err.into(),
            RegisterHookError::TokenRefused => bad_request(
                "gitlab_auth_failed",
                "GitLab rejected the integration's token; replace it or reconnect",
            ),
            RegisterHookError::HooksForbidden => bad_request(
                "gitlab_scope_missing",
                "GitLab refused to manage this project's hooks: the token needs the api scope and the Maintainer role on the project",
            ),
            RegisterHookError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err),
            RegisterHookError::Rotate(err) => err.into(),
        }
    }
}
