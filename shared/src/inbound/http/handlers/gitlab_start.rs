//! `POST /v1/integrations/gitlab/start` (`gitlab-start`): connect a GitLab instance.

use lambda_http::{Body, Response};
use secrecy::{ExposeSecret, SecretString};

use crate::app::connect::ConnectError;
use crate::app::connect::{self, ConnectRequest};
use crate::domain::host::HostUrl;
use crate::domain::integration::AuthMode;
use crate::domain::signature::signing_key_text;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::gitlab_unavailable;
use crate::inbound::http::errors::token_refusal;
use crate::inbound::http::handlers::required;
use crate::inbound::http::views::IntegrationView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Deserialize;
use serde::Serialize;

fn required_for_mode(value: Option<String>, field: &str) -> Result<String, ApiError> {
    required(value, || format!("`{field}` is required for this authentication mode"))
}

pub(super) async fn gitlab_start(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: StartRequest = ctx.json()?;
    let host = HostUrl::parse(&request.host_url, &app.services.config.host_policy)
        .map_err(|e| ApiError::invalid_input(e.to_string()))?;
    let connect = match request.auth_mode {
        AuthMode::PersonalToken => ConnectRequest::PersonalToken {
            host,
            token: SecretString::from(required_for_mode(request.access_token, "access_token")?),
        },
        AuthMode::OauthApp => ConnectRequest::OAuthApp {
            host,
            client_id: required_for_mode(request.client_id, "client_id")?,
            client_secret: SecretString::from(required_for_mode(request.client_secret, "client_secret")?),
        },
        AuthMode::GithubApp | AuthMode::LocalPath => {
            return Err(ApiError::invalid_input(
                "auth_mode must be personal_token or oauth_app for a GitLab integration",
            ));
        }
    };
    let connected = connect::gitlab_start(&app.services, connect, ctx.caller_id()).await?;
    Ok(json(
        StatusCode::OK,
        &StartResponse {
            integration: (&connected.integration).into(),
            webhook_url: ctx.webhook_url(),
            webhook_secret: connected.webhook.secret.expose_secret().to_string(),
            webhook_signing_key: signing_key_text(&connected.signing_key),
        },
    ))
}

/// `POST /v1/integrations/gitlab/start`.
#[derive(Debug, Deserialize)]
pub struct StartRequest {
    pub host_url: String,
    pub auth_mode: AuthMode,
    pub access_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
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

impl From<ConnectError> for ApiError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Token(err) => token_refusal(err, "gitlab_api_error"),
            ConnectError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_api_error", &err),
            ConnectError::MasterKey(err) => err.into(),
            ConnectError::Store(err) => err.into(),
            ConnectError::Vault(err) => err.into(),
        }
    }
}
