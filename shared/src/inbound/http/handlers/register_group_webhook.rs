//! `POST /v1/integrations/{id}/gitlab-group-webhooks` (`register-group-webhook`): our hook on a
//! GitLab group, created or updated with a fresh secret scoped to the group.

use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};

use crate::app::hooks::groups::{self, GroupHookError};
use crate::domain::group_hooks::GroupHookRecord;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::{bad_request, conflict, gitlab_unavailable};
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;

pub(super) async fn register_group_webhook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: GroupHookRequest = ctx.json()?;
    if request.group_id == 0 {
        return Err(ApiError::invalid_input(
            "`group_id` must be a GitLab group id (a positive number)",
        ));
    }
    let webhook_url = ctx.webhook_url();
    let hook = groups::register_group_hook(&app.services, &ctx.path_id()?, request.group_id, &webhook_url).await?;
    Ok(json(StatusCode::OK, &GroupHookView::from(&hook)))
}

/// `{"group_id": N}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupHookRequest {
    pub group_id: u64,
}

/// A group hook as the API shows it.
#[derive(Debug, Serialize)]
pub struct GroupHookView {
    pub hook_id: u64,
    pub group_id: u64,
    pub full_path: String,
    /// GitLab's `alert_status` as last read (`executable` once delivering).
    pub alert_status: Option<String>,
    pub disabled_until: Option<String>,
    pub last_delivery_at: Option<i64>,
}

impl From<&GroupHookRecord> for GroupHookView {
    fn from(hook: &GroupHookRecord) -> Self {
        GroupHookView {
            hook_id: hook.hook_id,
            group_id: hook.group_id,
            full_path: hook.full_path.clone(),
            alert_status: hook.alert_status.clone(),
            disabled_until: hook.disabled_until.clone(),
            last_delivery_at: hook.last_delivery_at,
        }
    }
}

impl From<GroupHookError> for ApiError {
    fn from(err: GroupHookError) -> Self {
        match err {
            GroupHookError::Lookup(err) => err.into(),
            GroupHookError::Credentials(err) => err.into(),
            GroupHookError::TokenRefused => bad_request(
                "gitlab_auth_failed",
                "GitLab rejected the integration's token; replace it or reconnect",
            ),
            GroupHookError::Unavailable(reason) => conflict(
                "group_hooks_unavailable",
                "GitLab refused group hooks for this group; project hooks still work",
            )
            .with_details(reason),
            GroupHookError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "group_hook_not_found",
                "this integration has no group hook with that id",
            ),
            GroupHookError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err),
            GroupHookError::Rotate(err) => err.into(),
            GroupHookError::Store(err) => err.into(),
        }
    }
}
