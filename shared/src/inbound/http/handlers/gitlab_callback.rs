//! `GET /v1/integrations/gitlab/callback` (`gitlab-callback`): GitLab's redirect target. 303 to
//! the UI on success, a small HTML page saying what to do on any failure.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::oauth;
use crate::domain::oauth::success_redirect;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::AuthorizationFailure;
use crate::inbound::http::{App, Ctx};

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
