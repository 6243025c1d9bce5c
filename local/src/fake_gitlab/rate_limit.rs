//! GitLab's rate limit as the fake applies it, when a test sets one: `limit` API requests per
//! window for each token, GitLab's `RateLimit-*` headers on every answer, and past the limit a
//! 429 with `Retry-After` until the window resets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::fake_gitlab::access::presented_token;
use crate::fake_gitlab::state::FakeState;

/// Requests a token may make per window.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub limit: u32,
    pub window_secs: u64,
}

/// The limit in force, each token's window, and the requests refused.
#[derive(Default)]
pub struct RateWindows {
    pub(crate) limit: Mutex<Option<RateLimit>>,
    /// Token → (the window's start, Unix seconds; requests made in it).
    windows: Mutex<HashMap<String, (u64, u32)>>,
    /// Requests answered 429 for being over the limit.
    pub refused: AtomicU64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Counts the request against its token's window; answers 429 past the limit; adds GitLab's
/// headers either way.
pub(crate) async fn limit_rate(State(state): State<Arc<FakeState>>, request: Request, next: Next) -> Response {
    let limit = *state.rate.limit.lock().unwrap();
    let (Some(limit), Some(token)) = (limit, presented_token(request.headers())) else {
        return next.run(request).await;
    };
    let now = unix_now();
    let (reset, used, over) = {
        let mut windows = state.rate.windows.lock().unwrap();
        let window = windows.entry(token).or_insert((now, 0));
        if now >= window.0 + limit.window_secs {
            *window = (now, 0);
        }
        let over = window.1 >= limit.limit;
        if !over {
            window.1 += 1;
        }
        (window.0 + limit.window_secs, window.1, over)
    };
    let mut response = if over {
        state.rate.refused.fetch_add(1, Ordering::SeqCst);
        let mut refused = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
        refused
            .headers_mut()
            .insert("retry-after", HeaderValue::from(reset.saturating_sub(now).max(1)));
        refused
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-name", HeaderValue::from_static("throttle_authenticated_api"));
    headers.insert("ratelimit-limit", HeaderValue::from(limit.limit));
    headers.insert("ratelimit-observed", HeaderValue::from(used));
    headers.insert(
        "ratelimit-remaining",
        HeaderValue::from(limit.limit.saturating_sub(used)),
    );
    headers.insert("ratelimit-reset", HeaderValue::from(reset));
    response
}

impl FakeState {
    /// Limits every token to `limit` API requests per `window_secs`, as GitLab does.
    pub fn set_rate_limit(&self, limit: u32, window_secs: u64) {
        *self.rate.limit.lock().unwrap() = Some(RateLimit { limit, window_secs });
    }
}
