//! `POST /v1/integrations/gitlab/authorize` and `GET /v1/integrations/gitlab/callback`: the
//! OAuth application flow with PKCE (S256) and a single-use state kept in the store.

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json as value;

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::credentials::{oauth_client, read_credentials, write_credentials};
use super::{gitlab_unavailable, integration_or_404, master_key};
use crate::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus};
use crate::domain::oauth::{check_redirect_url, new_state, pkce_challenge, pkce_verifier, state_digest, success_redirect, OAuthClient, PendingAuthorization, SCOPE, STATE_TTL_SECS};
use crate::domain::secrets::Credentials;
use crate::ports::GitLabError;
use crate::sync::sync_repositories;

/// Codes and states longer than this are not GitLab's.
const MAX_PARAM_LEN: usize = 512;

#[derive(Debug, Deserialize)]
struct AuthorizeRequest {
    integration_id: Option<String>,
    redirect_url: Option<String>,
    code: Option<String>,
    state: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `{integration_id, redirect_url}` → `{authorize_url}`; `{code, state}` → `{integration}`.
pub(super) async fn authorize(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: AuthorizeRequest = ctx.json()?;
    if request.code.is_some() || request.state.is_some() {
        let (Some(code), Some(state)) = (present(&request.code), present(&request.state)) else {
            return Err(ApiError::invalid_input("`code` and `state` are both required to complete an authorization"));
        };
        let (record, _) = complete(app, &ctx.callback_url(), code, state, present(&request.integration_id)).await.map_err(Failure::api_error)?;
        return Ok(json(StatusCode::OK, &value!({ "integration": record.view() })));
    }
    let integration_id = present(&request.integration_id).ok_or_else(|| ApiError::invalid_input("`integration_id` is required"))?;
    let redirect_url = present(&request.redirect_url).ok_or_else(|| ApiError::invalid_input("`redirect_url` is required"))?;
    let integration = integration_or_404(app, integration_id).await?;
    if integration.auth_mode != AuthMode::OauthApp {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_auth_mode", "only an oauth_app integration is authorized through GitLab"));
    }
    let redirect = check_redirect_url(redirect_url, &app.config.allowed_ui_origins).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "invalid_redirect_url", why))?;
    let client_id = integration.oauth_client_id.clone().ok_or_else(super::credentials::credentials_missing)?;

    let master = master_key(app).await?;
    let state = new_state();
    let now = app.clock.now();
    app.oauth_states
        .put_oauth_state(&PendingAuthorization {
            state_digest: state_digest(state.expose_secret()),
            integration_id: integration.id.clone(),
            requested_by: ctx.caller_id(),
            redirect_url: redirect.to_string(),
            created_at: now,
            expires_at: now + STATE_TTL_SECS,
        })
        .await?;
    let mut url = integration.host_url.join("oauth/authorize");
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &ctx.callback_url())
        .append_pair("response_type", "code")
        .append_pair("state", state.expose_secret())
        .append_pair("scope", SCOPE)
        .append_pair("code_challenge", &pkce_challenge(&pkce_verifier(&master, state.expose_secret())))
        .append_pair("code_challenge_method", "S256");
    tracing::info!(integration_id = %integration.id, "OAuth authorization started");
    Ok(json(StatusCode::OK, &value!({ "authorize_url": url.to_string() })))
}

/// GitLab's redirect target: 303 to the UI on success, a small HTML page on any failure.
pub(super) async fn callback(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let param = |name: &str| ctx.query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(error) = param("error") {
        let description = param("error_description").unwrap_or(error);
        tracing::info!(gitlab_error = error, "GitLab returned an OAuth error to the callback");
        return Ok(page(
            "GitLab did not authorize the connection",
            &format!("GitLab returned an error: {description}"),
            "Go back to Oore and start the connection again; if you declined by mistake, approve it this time.",
        ));
    }
    let (Some(code), Some(state)) = (param("code"), param("state")) else {
        return Ok(page("The authorization is incomplete", "GitLab's answer is missing the authorization code or state.", "Start the connection again from Oore."));
    };
    match complete(app, &ctx.callback_url(), code, state, None).await {
        Ok((record, redirect_url)) => {
            Ok(Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header("location", success_redirect(&redirect_url, &record.id))
                .header("cache-control", "no-store")
                .header("referrer-policy", "no-referrer")
                .body(Body::Empty)
                .unwrap_or_default())
        }
        Err(failure) => Ok(page(failure.title, &failure.message, failure.next_step)),
    }
}

/// Why an authorization could not be completed: one text for the API, one for the HTML page.
struct Failure {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: String,
    next_step: &'static str,
}

const START_AGAIN: &str = "Start the connection again from Oore.";

fn failure(status: StatusCode, code: &'static str, title: &'static str, message: impl Into<String>, next_step: &'static str) -> Failure {
    Failure { status, code, title, message: message.into(), next_step }
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Failure { status: err.status, code: err.code, title: "The connection could not be completed", message: err.message, next_step: "Try again in a moment." }
    }
}

impl Failure {
    fn api_error(self) -> ApiError {
        ApiError::new(self.status, self.code, self.message)
    }
}

/// Completes an authorization: takes the state (once), exchanges the code with the PKCE
/// verifier, stores the tokens, marks the integration active and syncs its repositories.
/// Returns the integration and the UI URL the authorization started from. Nothing is stored
/// unless GitLab accepted the code.
async fn complete(app: &App, callback_url: &str, code: &str, state: &str, expected_integration: Option<&str>) -> Result<(IntegrationRecord, String), Failure> {
    if code.len() > MAX_PARAM_LEN || state.len() > MAX_PARAM_LEN {
        return Err(failure(StatusCode::BAD_REQUEST, "invalid_state", "The authorization link is not valid", "The code or state is not one GitLab issues.", START_AGAIN));
    }
    let pending = app.oauth_states.take_oauth_state(&state_digest(state)).await.map_err(ApiError::from)?.ok_or_else(|| {
        failure(StatusCode::BAD_REQUEST, "invalid_state", "The authorization link is not valid", "This authorization is unknown or was already used.", START_AGAIN)
    })?;
    let now = app.clock.now();
    if pending.expires_at <= now {
        return Err(failure(StatusCode::BAD_REQUEST, "invalid_state", "The authorization link has expired", "Authorizations must be completed within 10 minutes.", START_AGAIN));
    }
    if expected_integration.is_some_and(|id| id != pending.integration_id) {
        return Err(failure(StatusCode::BAD_REQUEST, "invalid_state", "The authorization link is not valid", "This authorization belongs to another integration.", START_AGAIN));
    }
    let mut integration = integration_or_404(app, &pending.integration_id).await?;
    if integration.auth_mode != AuthMode::OauthApp {
        return Err(failure(StatusCode::BAD_REQUEST, "invalid_auth_mode", "The integration cannot be authorized", "It does not use an OAuth application.", START_AGAIN));
    }
    let credentials = read_credentials(app, &integration.id, true).await?;
    let client = oauth_client(&integration, &credentials)?;
    let master = master_key(app).await?;
    let host = integration.host_url.clone();
    let tokens = match app.gitlab.exchange_code(&host, &client, code, callback_url, &pkce_verifier(&master, state)).await {
        Ok(tokens) => tokens,
        Err(GitLabError::OAuthRefused { error }) => {
            tracing::info!(integration_id = %integration.id, gitlab_error = %error, "GitLab refused the authorization code");
            return Err(failure(
                StatusCode::BAD_REQUEST,
                "gitlab_auth_failed",
                "GitLab refused the authorization",
                format!("GitLab did not accept the authorization code ({error}); it may have expired or been used already, or the application's settings may differ."),
                "Check the application's client id, secret and redirect URI in GitLab, then start again from Oore.",
            ));
        }
        Err(err) => return Err(gitlab_unavailable("gitlab_unavailable", &err).into()),
    };
    let user = match app.gitlab.current_user(&host, &tokens.access_token).await {
        Ok(user) => user,
        Err(err) => {
            revoke_quietly(app, &integration, &client, &tokens.access_token).await;
            return Err(gitlab_unavailable("gitlab_unavailable", &err).into());
        }
    };
    if integration.gitlab_user_id.is_some_and(|known| known != user.id) {
        revoke_quietly(app, &integration, &client, &tokens.access_token).await;
        return Err(failure(
            StatusCode::CONFLICT,
            "gitlab_account_mismatch",
            "A different GitLab account signed in",
            "This integration belongs to another GitLab user than the one who just authorized it.",
            "Sign in to GitLab as the integration's user and start again, or connect a new integration.",
        ));
    }

    let now = app.clock.now();
    let expires_at = tokens.expires_at(now);
    let stored = Credentials {
        access_token: Some(SecretString::from(tokens.access_token.expose_secret().to_string())),
        refresh_token: tokens.refresh_token,
        client_secret: Some(client.secret),
        expires_at,
    };
    write_credentials(app, &integration.id, &stored).await?;
    integration.status = IntegrationStatus::Active;
    integration.gitlab_user_id = Some(user.id);
    integration.token_expires_at = expires_at;
    integration.display_name = Some(user.integration_name(&host.host_label()));
    integration.updated_at = now;
    app.integrations.update_integration(&integration).await.map_err(ApiError::from)?;

    let installations = app.integrations.list_installations(&integration.id).await.map_err(ApiError::from)?;
    let installation = match installations.into_iter().find(|i| i.external_id == user.username) {
        Some(existing) => existing,
        None => {
            let created = Installation {
                id: uuid::Uuid::new_v4().to_string(),
                integration_id: integration.id.clone(),
                external_id: user.username.clone(),
                account_name: user.username.clone(),
                account_type: Some("user".into()),
                created_at: now,
            };
            app.integrations.put_installation(&created).await.map_err(ApiError::from)?;
            created
        }
    };
    // As at connect, a failed first sync is not fatal: POST …/installations retries it.
    match sync_repositories(app.gitlab.as_ref(), app.repositories.as_ref(), &integration.id, &installation.id, &host, &stored_access(&stored), now, app.config.sync_concurrency).await {
        Ok(summary) => tracing::info!(integration_id = %integration.id, fetched = summary.fetched, "OAuth authorization completed; repositories synced"),
        Err(err) => tracing::warn!(integration_id = %integration.id, error = %err, "OAuth authorization completed; repository sync failed"),
    }
    Ok((integration, pending.redirect_url))
}

fn stored_access(credentials: &Credentials) -> SecretString {
    SecretString::from(credentials.access_token.as_ref().map(|t| t.expose_secret().to_string()).unwrap_or_default())
}

/// Revokes tokens we will not keep; a failure only leaves them to expire.
async fn revoke_quietly(app: &App, integration: &IntegrationRecord, client: &OAuthClient, token: &SecretString) {
    if let Err(err) = app.gitlab.revoke_token(&integration.host_url, client, token).await {
        tracing::warn!(integration_id = %integration.id, error = %err, "could not revoke an unused GitLab token; it expires on its own");
    }
}

fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// The callback's error page. The contract answers it with 200.
fn page(title: &str, message: &str, next_step: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{title}</h1><p>{message}</p><p>{next_step}</p></body></html>",
        title = escape_html(title),
        message = escape_html(message),
        next_step = escape_html(next_step),
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
        .body(Body::Text(html))
        .unwrap_or_default()
}
