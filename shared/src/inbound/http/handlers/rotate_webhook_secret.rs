//! `POST /v1/integration-repositories/{id}/gitlab-webhook-secret` (`rotate-webhook-secret`): a
//! new secret for one repository, shown once with its signing key.

use lambda_http::{Body, Response};
use secrecy::ExposeSecret;

use crate::app::hooks::admin;
use crate::domain::ids::RepositoryId;
use crate::domain::signature::signing_key_text;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

pub(super) async fn rotate_webhook_secret(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let issued = admin::rotate_webhook_secret(&app.services, &ctx.path_id()?).await?;
    Ok(json(
        StatusCode::OK,
        &RotatedSecretResponse {
            repository_id: issued.repository_id,
            webhook_secret: issued.rotated.secret.expose_secret().to_string(),
            rotated_at: issued.rotated.rotated_at,
            webhook_signing_key: signing_key_text(&issued.signing_key),
            previous_valid_until: issued.rotated.previous_valid_until,
            webhook_url: ctx.webhook_url(),
        },
    ))
}

#[derive(Debug, Serialize)]
pub struct RotatedSecretResponse {
    pub repository_id: RepositoryId,
    pub webhook_secret: String,
    pub rotated_at: i64,
    pub webhook_signing_key: String,
    pub previous_valid_until: i64,
    pub webhook_url: String,
}
