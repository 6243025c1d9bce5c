//! `POST /v1/integrations/gitlab/start` (`gitlab-start`): connect a GitLab instance.

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::{ExposeSecret, SecretString};

use crate::app::connect::{self, ConnectRequest};
use crate::domain::host::HostUrl;
use crate::domain::integration::AuthMode;
use crate::domain::webhook::signing_key_text;
use crate::inbound::http::bodies::{StartRequest, StartResponse};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::required;
use crate::inbound::http::{App, Ctx, json};

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
