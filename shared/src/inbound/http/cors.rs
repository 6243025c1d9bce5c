//! CORS for the Oore UI: allowed origins may call the UI's routes from the browser; the public
//! routes (webhook, OAuth callback) never answer with CORS headers.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};

use crate::config::Config;
use crate::domain::oauth::origin_allowed;
use crate::inbound::http::auth::Access;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::routes::{Lookup, find};

/// How long a browser may reuse a preflight answer.
const MAX_AGE_SECS: &str = "600";

/// The request's `Origin` when it is one of the allowed UI origins.
fn allowed_origin<'a>(config: &Config, headers: &'a HeaderMap) -> Option<&'a str> {
    let origin = headers.get(http::header::ORIGIN)?.to_str().ok()?.trim();
    origin_allowed(&config.allowed_ui_origins, origin).then_some(origin)
}

/// Adds `Access-Control-Allow-Origin` to an answer when the request came from an allowed origin.
pub fn allow_origin(config: &Config, request_headers: &HeaderMap, response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.append(http::header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed_origin(config, request_headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}

/// `OPTIONS /v1/{proxy+}`: allows the method asked about when the path is one of the UI's
/// routes and the origin is allowed; anything else is refused without CORS headers.
pub fn preflight(config: &Config, headers: &HeaderMap, rest_of_path: &str) -> Result<Response<Body>, ApiError> {
    let refused = |why: &str| ApiError::new(StatusCode::FORBIDDEN, "cors_refused", why.to_string());
    let origin =
        allowed_origin(config, headers).ok_or_else(|| refused("this origin may not call the API from a browser"))?;
    let method = headers
        .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())
        .ok_or_else(|| refused("Access-Control-Request-Method is missing"))?;
    match find(&method, &format!("/v1/{rest_of_path}")) {
        Lookup::Found(route, _) if route.access != Access::Public => {}
        _ => return Err(refused("no route of the UI answers that method on that path")),
    }
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
        .header(http::header::ACCESS_CONTROL_ALLOW_METHODS, method.as_str())
        .header(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            "authorization, content-type",
        )
        .header(http::header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS)
        .header(http::header::VARY, "origin")
        .body(Body::Empty)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the preflight answer could not be built",
            )
        })
}
