//! `POST /v1/integrations/gitlab/start`: connect a GitLab instance.

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::{gitlab_unavailable, master_key};
use crate::domain::gitlab::{expiry_from_date, missing_scopes, GitLabUser, TokenInfo};
use crate::domain::host::HostUrl;
use crate::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus, IntegrationView};
use crate::domain::secrets::Credentials;
use crate::domain::webhook::signing_key_text;
use crate::domain::webhook_keys::{IssuedKey, WebhookKey};
use crate::ports::GitLabError;
use crate::sync::sync_repositories;

#[derive(Debug, Deserialize)]
struct StartRequest {
    host_url: String,
    auth_mode: AuthMode,
    access_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The contract's `GitLabCompleteResponse`, plus the webhook URL, and the integration-wide
/// webhook secret and its Standard Webhooks signing key, shown only now.
#[derive(Debug, Serialize)]
pub struct StartResponse {
    pub integration: IntegrationView,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub webhook_signing_key: String,
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid_input(format!("`{field}` is required for this authentication mode")))
}

pub(super) async fn handle(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: StartRequest = ctx.json()?;
    let host = HostUrl::parse(&request.host_url, &app.config.host_policy).map_err(|e| ApiError::invalid_input(e.to_string()))?;
    match request.auth_mode {
        AuthMode::PersonalToken => {
            let token = SecretString::from(required(request.access_token, "access_token")?);
            connect_personal_token(app, &ctx, host, token).await
        }
        AuthMode::OauthApp => {
            let client_id = required(request.client_id, "client_id")?;
            let client_secret = SecretString::from(required(request.client_secret, "client_secret")?);
            connect_oauth_app(app, &ctx, host, client_id, client_secret).await
        }
        AuthMode::GithubApp | AuthMode::LocalPath => {
            Err(ApiError::invalid_input("auth_mode must be personal_token or oauth_app for a GitLab integration"))
        }
    }
}

/// Checks a personal token at GitLab: who it acts as, that it is live and has the scopes we need.
/// Used by connect and by token replacement.
pub(super) async fn verify_personal_token(app: &App, host: &HostUrl, token: &SecretString, unavailable_code: &'static str) -> Result<(GitLabUser, TokenInfo), ApiError> {
    let refused = |err: &GitLabError| {
        ApiError::new(StatusCode::BAD_REQUEST, "gitlab_auth_failed", "GitLab rejected the access token; check it and that it has not expired or been revoked")
            .with_details(err.to_string())
    };
    let user = match app.gitlab.current_user(host, token).await {
        Ok(user) => user,
        Err(err @ (GitLabError::Unauthorized(_) | GitLabError::Forbidden)) => return Err(refused(&err)),
        Err(err) => return Err(gitlab_unavailable(unavailable_code, &err)),
    };
    let info = match app.gitlab.token_self(host, token).await {
        Ok(info) => info,
        Err(err @ GitLabError::Unauthorized(_)) => return Err(refused(&err)),
        // GitLab before 15.5 has no self-inspection, and newer versions answer 400 for tokens
        // that are not personal access tokens: either way its scopes cannot be checked.
        Err(err @ (GitLabError::NotFound | GitLabError::Status(400))) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "gitlab_auth_failed",
                "GitLab would not describe this token; use a personal access token on GitLab 15.5 or later",
            )
            .with_details(err.to_string()))
        }
        Err(err) => return Err(gitlab_unavailable(unavailable_code, &err)),
    };
    if info.revoked || !info.active {
        return Err(refused(&GitLabError::Unauthorized(Some("the token is revoked or inactive".into()))));
    }
    if let Some(missing) = missing_scopes(&info.scopes) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "gitlab_scope_missing", format!("{missing}; create a token with the api scope, or read_api and read_repository")));
    }
    Ok((user, info))
}

async fn connect_personal_token(app: &App, ctx: &Ctx, host: HostUrl, token: SecretString) -> Result<Response<Body>, ApiError> {
    let (user, info) = verify_personal_token(app, &host, &token, "gitlab_api_error").await?;
    let master = master_key(app).await?;
    let now = app.clock.now();
    let mut record = IntegrationRecord::new(host.clone(), AuthMode::PersonalToken, IntegrationStatus::Active, user.integration_name(&host.host_label()), ctx.caller_id(), now);
    record.gitlab_user_id = Some(user.id);
    record.token_expires_at = expiry_from_date(info.expires_at.as_deref());
    let id = record.id.clone();
    let webhook = WebhookKey::issue(&id, None, now);
    let installation = Installation {
        id: uuid::Uuid::new_v4().to_string(),
        integration_id: id.clone(),
        external_id: user.username.clone(),
        account_name: user.username.clone(),
        account_type: Some("user".into()),
        created_at: now,
    };

    store_new_integration(app, &record, Some(&installation), &webhook.key, &Credentials::personal(token.clone())).await?;

    // A failed first sync is not fatal: the integration works and POST …/installations retries it.
    match sync_repositories(app.gitlab.as_ref(), app.repositories.as_ref(), &id, &installation.id, &host, &token, now, app.config.sync_concurrency).await {
        Ok(summary) => tracing::info!(integration_id = %id, fetched = summary.fetched, "initial repository sync done"),
        Err(err) => tracing::warn!(integration_id = %id, error = %err, "initial repository sync failed"),
    }

    Ok(start_response(ctx, &record, &webhook, &master))
}

fn start_response(ctx: &Ctx, record: &IntegrationRecord, webhook: &IssuedKey, master: &SecretString) -> Response<Body> {
    json(StatusCode::OK, &StartResponse {
        integration: record.view(),
        webhook_url: ctx.webhook_url(),
        webhook_secret: webhook.secret.expose_secret().to_string(),
        webhook_signing_key: signing_key_text(&webhook.key.signing_key(master)),
    })
}

/// Secret first, then the records; if the records fail the secret is taken back, so a failed
/// connect leaves nothing behind.
async fn store_new_integration(app: &App, record: &IntegrationRecord, installation: Option<&Installation>, webhook: &WebhookKey, credentials: &Credentials) -> Result<(), ApiError> {
    let secret_name = app.config.credentials_secret_name(&record.id);
    app.vault.create_secret(&secret_name, &credentials.to_secret_json()).await?;
    if let Err(err) = app.integrations.create_integration(record, installation, Some(webhook)).await {
        if let Err(cleanup) = app.vault.delete_secret(&secret_name).await {
            tracing::error!(integration_id = %record.id, error = %cleanup, "could not remove the secret of a failed connect");
        }
        return Err(err.into());
    }
    Ok(())
}

/// OAuth application mode: GitLab must answer at the host; the client secret goes to the vault;
/// the integration stays `inactive` until an authorization completes.
async fn connect_oauth_app(app: &App, ctx: &Ctx, host: HostUrl, client_id: String, client_secret: SecretString) -> Result<Response<Body>, ApiError> {
    if let Err(err) = app.gitlab.reachable(&host).await {
        return Err(gitlab_unavailable("gitlab_api_error", &err));
    }
    let master = master_key(app).await?;
    let now = app.clock.now();
    let name = format!("GitLab OAuth ({})", host.host_label());
    let mut record = IntegrationRecord::new(host, AuthMode::OauthApp, IntegrationStatus::Inactive, name, ctx.caller_id(), now);
    record.oauth_client_id = Some(client_id);
    let id = record.id.clone();
    let webhook = WebhookKey::issue(&id, None, now);
    let credentials = Credentials { client_secret: Some(client_secret), ..Default::default() };
    store_new_integration(app, &record, None, &webhook.key, &credentials).await?;
    tracing::info!(integration_id = %id, "OAuth application integration created");
    Ok(start_response(ctx, &record, &webhook, &master))
}
