//! `POST /v1/integrations/gitlab/authorize` (`gitlab-authorize`): `{integration_id, redirect_url}`
//! starts an OAuth authorization and answers `{authorize_url}`; `{code, state}` completes one
//! (for clients that catch GitLab's redirect themselves) and answers `{integration}`.

use lambda_http::{Body, Response};

use crate::app::oauth;
use crate::app::oauth::AuthorizeError;
use crate::domain::ids::IntegrationId;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::bad_request;
use crate::inbound::http::views::IntegrationView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Deserialize;
use serde::Serialize;

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub(super) async fn gitlab_authorize(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: AuthorizeRequest = ctx.json()?;
    if request.code.is_some() || request.state.is_some() {
        let (Some(code), Some(state)) = (present(&request.code), present(&request.state)) else {
            return Err(ApiError::invalid_input(
                "`code` and `state` are both required to complete an authorization",
            ));
        };
        let expected = present(&request.integration_id).map(IntegrationId::from);
        let authorized =
            oauth::gitlab_callback(&app.services, &ctx.callback_url(), code, state, expected.as_ref()).await?;
        return Ok(json(
            StatusCode::OK,
            &IntegrationResponse {
                integration: (&authorized.integration).into(),
            },
        ));
    }
    let integration_id = present(&request.integration_id)
        .map(IntegrationId::from)
        .ok_or_else(|| ApiError::invalid_input("`integration_id` is required"))?;
    let redirect_url =
        present(&request.redirect_url).ok_or_else(|| ApiError::invalid_input("`redirect_url` is required"))?;
    let authorize_url = oauth::gitlab_authorize(
        &app.services,
        &integration_id,
        redirect_url,
        &ctx.callback_url(),
        ctx.caller_id(),
    )
    .await?;
    Ok(json(StatusCode::OK, &AuthorizeUrlResponse { authorize_url }))
}

/// `POST /v1/integrations/gitlab/authorize`: `{integration_id, redirect_url}` starts an
/// authorization, `{code, state}` completes one.
#[derive(Debug, Deserialize)]
pub struct AuthorizeRequest {
    pub integration_id: Option<String>,
    pub redirect_url: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuthorizeUrlResponse {
    pub authorize_url: String,
}

#[derive(Debug, Serialize)]
pub struct IntegrationResponse {
    pub integration: IntegrationView,
}

impl From<AuthorizeError> for ApiError {
    fn from(err: AuthorizeError) -> Self {
        match err {
            AuthorizeError::Lookup(err) => err.into(),
            AuthorizeError::NotOAuthApp => bad_request(
                "invalid_auth_mode",
                "only an oauth_app integration is authorized through GitLab",
            ),
            AuthorizeError::InvalidRedirect(why) => bad_request("invalid_redirect_url", why),
            AuthorizeError::Credentials(err) => err.into(),
            AuthorizeError::MasterKey(err) => err.into(),
            AuthorizeError::Store(err) => err.into(),
        }
    }
}
