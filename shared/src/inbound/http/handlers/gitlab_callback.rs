//! `GET /v1/integrations/gitlab/callback` (`gitlab-callback`): GitLab's redirect target. 303 to
//! the UI on success, a small HTML page saying what to do on any failure.

use lambda_http::{Body, Response};

use crate::app::oauth;
use crate::app::oauth::AuthorizationError;
use crate::domain::oauth::success_redirect;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::gitlab_unavailable;
use crate::inbound::http::{App, Ctx};
use http::StatusCode;

pub(super) async fn gitlab_callback(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
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
        return Ok(page(
            "The authorization is incomplete",
            "GitLab's answer is missing the authorization code or state.",
            "Start the connection again from Oore.",
        ));
    };
    match oauth::gitlab_callback(&app.services, &ctx.callback_url(), code, state, None).await {
        Ok(authorized) => Ok(Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(
                "location",
                success_redirect(&authorized.redirect_url, &authorized.integration.id),
            )
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
            .body(Body::Empty)
            .unwrap_or_default()),
        Err(err) => {
            let failure = AuthorizationFailure::from(err);
            Ok(page(failure.title, &failure.message, failure.next_step))
        }
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
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        )
        .body(Body::Text(html))
        .unwrap_or_default()
}

/// Why an authorization could not be completed, written twice over: as the envelope for API
/// clients and as a page (title, message, next step) for a browser on the callback.
pub struct AuthorizationFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub message: String,
    pub next_step: &'static str,
}

const START_AGAIN: &str = "Start the connection again from Oore.";

const LINK_NOT_VALID: &str = "The authorization link is not valid";

fn failure(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: impl Into<String>,
    next_step: &'static str,
) -> AuthorizationFailure {
    AuthorizationFailure {
        status,
        code,
        title,
        message: message.into(),
        next_step,
    }
}

impl From<ApiError> for AuthorizationFailure {
    fn from(err: ApiError) -> Self {
        failure(
            err.status,
            err.code,
            "The connection could not be completed",
            err.message,
            "Try again in a moment.",
        )
    }
}

impl From<AuthorizationError> for AuthorizationFailure {
    fn from(err: AuthorizationError) -> Self {
        let invalid_state =
            |title, message: &str| failure(StatusCode::BAD_REQUEST, "invalid_state", title, message, START_AGAIN);
        match err {
            AuthorizationError::MalformedParameters => {
                invalid_state(LINK_NOT_VALID, "The code or state is not one GitLab issues.")
            }
            AuthorizationError::UnknownState => {
                invalid_state(LINK_NOT_VALID, "This authorization is unknown or was already used.")
            }
            AuthorizationError::ExpiredState => invalid_state(
                "The authorization link has expired",
                "Authorizations must be completed within 10 minutes.",
            ),
            AuthorizationError::OtherIntegration => {
                invalid_state(LINK_NOT_VALID, "This authorization belongs to another integration.")
            }
            AuthorizationError::NotOAuthApp => failure(
                StatusCode::BAD_REQUEST,
                "invalid_auth_mode",
                "The integration cannot be authorized",
                "It does not use an OAuth application.",
                START_AGAIN,
            ),
            AuthorizationError::CodeRefused(error) => failure(
                StatusCode::BAD_REQUEST,
                "gitlab_auth_failed",
                "GitLab refused the authorization",
                format!(
                    "GitLab did not accept the authorization code ({error}); it may have expired or been used already, or the application's settings may differ."
                ),
                "Check the application's client id, secret and redirect URI in GitLab, then start again from Oore.",
            ),
            AuthorizationError::AccountMismatch => failure(
                StatusCode::CONFLICT,
                "gitlab_account_mismatch",
                "A different GitLab account signed in",
                "This integration belongs to another GitLab user than the one who just authorized it.",
                "Sign in to GitLab as the integration's user and start again, or connect a new integration.",
            ),
            AuthorizationError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err).into(),
            AuthorizationError::Lookup(err) => ApiError::from(err).into(),
            AuthorizationError::Credentials(err) => ApiError::from(err).into(),
            AuthorizationError::MasterKey(err) => ApiError::from(err).into(),
            AuthorizationError::Store(err) => ApiError::from(err).into(),
        }
    }
}

impl From<AuthorizationError> for ApiError {
    fn from(err: AuthorizationError) -> Self {
        let failure = AuthorizationFailure::from(err);
        ApiError::new(failure.status, failure.code, failure.message)
    }
}
