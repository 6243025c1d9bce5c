//! `POST /v1/integrations/{id}/gitlab-webhook-secret` (`rotate-integration-webhook-secret`): a
//! new integration-wide secret, shown once with its signing key; `grace_seconds` 0 revokes the
//! old one at once.

use lambda_http::{Body, Response};
use secrecy::ExposeSecret;

use crate::app::hooks::admin::{self, MAX_GRACE_SECS};
use crate::domain::signature::signing_key_text;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Deserialize;
use serde::Serialize;

pub(super) async fn rotate_integration_webhook_secret(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: RotateIntegrationSecretRequest = ctx.json()?;
    if let Some(grace) = request.grace_seconds
        && !(0..=MAX_GRACE_SECS).contains(&grace)
    {
        return Err(ApiError::invalid_input(format!(
            "`grace_seconds` must be from 0 (revoke the old secret now) to {MAX_GRACE_SECS}"
        )));
    }
    let issued =
        admin::rotate_integration_webhook_secret(&app.services, &ctx.path_id()?, request.grace_seconds).await?;
    Ok(json(
        StatusCode::OK,
        &IntegrationSecretResponse {
            webhook_secret: issued.rotated.secret.expose_secret().to_string(),
            webhook_signing_key: signing_key_text(&issued.signing_key),
            previous_valid_until: issued.rotated.previous_valid_until,
        },
    ))
}

/// `POST /v1/integrations/{id}/gitlab-webhook-secret`: how long the old secret keeps working.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateIntegrationSecretRequest {
    pub grace_seconds: Option<i64>,
}

/// The new integration-wide secret, shown once.
#[derive(Debug, Serialize)]
pub struct IntegrationSecretResponse {
    pub webhook_secret: String,
    pub webhook_signing_key: String,
    pub previous_valid_until: i64,
}
