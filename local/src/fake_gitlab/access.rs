//! Who may call the fake GitLab: the token check every endpoint makes, the delay and failure
//! switches a test sets, and GitLab's refusals (401, 403 insufficient_scope, 404).

use crate::fake_gitlab::state::{FakeState, FakeToken, TokenState};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(crate) fn unauthorized_plain() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "401 Unauthorized"}))).into_response()
}

pub(crate) fn insufficient_scope(scope: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token.", "scope": scope})),
    )
        .into_response()
}

/// The token a request carries: `PRIVATE-TOKEN`, or a Bearer `Authorization`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .map(str::to_string)
}

/// Finds the caller's token (`PRIVATE-TOKEN` or Bearer) and answers GitLab's 401s for bad ones.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the answer itself; the fake serves tests, not traffic"
)]
pub(crate) fn authenticate(state: &FakeState, headers: &HeaderMap) -> Result<FakeToken, Response> {
    let Some(presented) = presented_token(headers) else {
        return Err(unauthorized_plain());
    };
    let Some(token) = state.tokens.lock().unwrap().get(&presented).cloned() else {
        return Err(unauthorized_plain());
    };
    match token.state {
        TokenState::Live => Ok(token),
        TokenState::Expired => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "Token is expired. You can either do re-authorization or token refresh."})),
        )
            .into_response()),
        TokenState::Revoked => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."})),
        )
            .into_response()),
    }
}

pub(crate) fn has_any(token: &FakeToken, scopes: &[&str]) -> bool {
    token.scopes.iter().any(|s| scopes.contains(&s.as_str()))
}

/// Applies the delay and the failure switch, and counts requests in flight.
pub(crate) async fn gate(state: &FakeState) -> Option<Response> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": "503 Service Unavailable"})),
            )
                .into_response(),
        );
    }
    let percent = state.failure_percent.load(Ordering::SeqCst);
    (percent > 0 && rand::random_range(0..100) < percent).then(|| {
        state.failed_at_random.fetch_add(1, Ordering::SeqCst);
        match rand::random_range(0..3) {
            0 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"message": "500 Internal Server Error"})),
            )
                .into_response(),
            1 => (StatusCode::BAD_GATEWAY, "<html><body>502 Bad Gateway</body></html>").into_response(),
            _ => {
                let mut response = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("1"));
                response
            }
        }
    })
}

/// The gate alone, for endpoints that authenticate their own way (OAuth).
pub(crate) async fn gate_only(state: &FakeState) -> Option<Response> {
    gate(state).await
}

/// The gate, then the token: what every authenticated endpoint does first.
pub(crate) async fn admit(state: &FakeState, headers: &HeaderMap) -> Result<FakeToken, Response> {
    if let Some(r) = gate(state).await {
        return Err(r);
    }
    authenticate(state, headers)
}

pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"message": "404 Project Not Found"}))).into_response()
}

pub(crate) fn find_project(state: &FakeState, id: u64) -> Option<Value> {
    state.projects.get(id)
}
