//! `POST /v1/integrations/{id}/gitlab-token/check` and `PUT /v1/integrations/{id}/gitlab-token`.

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json as value;

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::start::verify_personal_token;
use super::{access_token, integration_or_404};
use crate::domain::gitlab::{expiry_from_date, status_from_expiry, CredentialStatus};
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::secrets::Credentials;
use crate::ports::{GitLabError, VaultError};

#[derive(Debug, Deserialize)]
struct ReplaceRequest {
    access_token: Option<String>,
}

async fn personal_token_integration(app: &App, id: &str) -> Result<IntegrationRecord, ApiError> {
    let record = integration_or_404(app, id).await?;
    if record.auth_mode != AuthMode::PersonalToken {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_auth_mode", "this integration does not use a personal access token"));
    }
    Ok(record)
}

fn status_body(status: CredentialStatus, expires_at: Option<i64>, checked_at: i64) -> Response<Body> {
    json(StatusCode::OK, &value!({ "status": status, "expires_at": expires_at, "checked_at": checked_at }))
}

pub(super) async fn check(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let mut record = personal_token_integration(app, ctx.id()).await?;
    let token = access_token(app, &record).await?;
    let now = app.clock.now();
    let (status, expires_at) = match app.gitlab.token_self(&record.host_url, &token).await {
        Ok(info) if info.revoked || !info.active => (CredentialStatus::Rejected, record.token_expires_at),
        Ok(info) => {
            let expires_at = expiry_from_date(info.expires_at.as_deref());
            (status_from_expiry(expires_at, now), expires_at)
        }
        Err(GitLabError::Unauthorized(_)) => (CredentialStatus::Rejected, record.token_expires_at),
        Err(err) => {
            tracing::warn!(integration_id = %record.id, error = %err, "token check could not reach GitLab");
            (CredentialStatus::Unknown, record.token_expires_at)
        }
    };
    let new_status = match status {
        CredentialStatus::Rejected | CredentialStatus::Expired => IntegrationStatus::Error,
        CredentialStatus::Unknown => record.status,
        CredentialStatus::Valid | CredentialStatus::Expiring => IntegrationStatus::Active,
    };
    if new_status != record.status || expires_at != record.token_expires_at {
        record.status = new_status;
        record.token_expires_at = expires_at;
        record.updated_at = now;
        app.integrations.update_integration(&record).await?;
    }
    Ok(status_body(status, expires_at, now))
}

pub(super) async fn replace(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: ReplaceRequest = ctx.json()?;
    let token = request
        .access_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| ApiError::invalid_input("`access_token` is required"))?;
    let mut record = personal_token_integration(app, ctx.id()).await?;
    let (user, info) = verify_personal_token(app, &record.host_url, &token, "gitlab_unavailable").await?;
    if record.gitlab_user_id.is_some_and(|known| known != user.id) {
        return Err(ApiError::new(StatusCode::CONFLICT, "gitlab_account_mismatch", "the new token belongs to another GitLab user than this integration; connect that user as a new integration"));
    }
    let name = app.config.credentials_secret_name(&record.id);
    let secret = Credentials::personal(token).to_secret_json();
    match app.vault.put_secret(&name, &secret).await {
        Err(VaultError::NotFound) => app.vault.create_secret(&name, &secret).await?,
        other => other?,
    }
    let now = app.clock.now();
    let expires_at = expiry_from_date(info.expires_at.as_deref());
    record.status = IntegrationStatus::Active;
    record.gitlab_user_id = Some(user.id);
    record.token_expires_at = expires_at;
    record.updated_at = now;
    app.integrations.update_integration(&record).await?;
    Ok(status_body(status_from_expiry(expires_at, now), expires_at, now))
}
