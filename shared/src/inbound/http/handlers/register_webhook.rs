//! `POST /v1/integration-repositories/{id}/gitlab-webhook` (`register-webhook`): the project hook
//! at GitLab, created or updated with a fresh secret.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::hooks::admin;
use crate::inbound::http::bodies::RegisteredHookResponse;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};

pub(super) async fn register_webhook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let webhook_url = ctx.webhook_url();
    let hook = admin::register_webhook(&app.services, &ctx.path_id()?, &webhook_url).await?;
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
