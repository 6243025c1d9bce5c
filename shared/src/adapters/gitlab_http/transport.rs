//! How requests reach GitLab: the client (built on first use, no redirects, no proxy, SSRF-safe
//! resolving), the bearer token, and GitLab's passing failures (5xx, 429, timeouts, dropped
//! connections) sent again with backoff, after `Retry-After` or `RateLimit-Reset` when given;
//! every call paced by the token's rate limit window (`pacing.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Name, Resolve, Resolving};
use reqwest::header::AUTHORIZATION;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::{body_within, check_status, describe, json_within, retry_after};
use crate::adapters::gitlab_http::pacing::window_key;
use crate::domain::host::is_forbidden_ip;
use crate::ports::GitLabError;

/// How often a request GitLab failed in passing is sent in all, the first pause between tries
/// (doubling, with jitter), and the longest wait GitLab may ask for.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(10);
/// No try starts later than this after the first: with the 20 s timeout a call stays within
/// API Gateway's 29 s.
const RETRY_BUDGET: Duration = Duration::from_secs(8);
/// An OAuth token answer is a few hundred bytes.
const MOST_OAUTH_ANSWER_BYTES: usize = 64 * 1024;

/// Resolves names with the system resolver and drops link-local and metadata addresses, so a
/// host name that points at 169.254.169.254 is refused just like the literal address.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| !is_forbidden_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{} resolves to no address we may reach", name.as_str()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// The pause before try `attempt + 1`: doubling from [`FIRST_BACKOFF`], between half and all
/// of it at random, so callers that failed together do not come back together.
fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    full.mul_f64(rand::random_range(0.5..=1.0))
}

impl HttpGitLab {
    pub fn new() -> Self {
        HttpGitLab::default()
    }

    #[allow(
        clippy::expect_used,
        reason = "only a TLS backend that cannot start fails here, and then nothing works"
    )]
    pub(super) fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            Client::builder()
                .user_agent(concat!("oore-gitlab-serverless/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(20))
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(GuardedResolver))
                // Through a proxy, the proxy would resolve `host_url`, out of the guard's sight,
                // and get our token: GitLab is always called directly.
                .no_proxy()
                .build()
                .expect("the TLS backend initialises")
        })
    }

    pub(super) fn get(&self, url: Url, token: Option<&SecretString>) -> RequestBuilder {
        self.with_token(self.client().get(url), token)
    }

    /// `DELETE url` with the token; any 2xx is done.
    pub(super) async fn delete_with(&self, url: Url, token: &SecretString) -> Result<(), GitLabError> {
        self.send(self.with_token(self.client().delete(url), Some(token)))
            .await?;
        Ok(())
    }

    pub(super) fn with_token(&self, request: RequestBuilder, token: Option<&SecretString>) -> RequestBuilder {
        match token {
            // GitLab takes personal and OAuth tokens alike as a Bearer token.
            Some(t) => request.header(AUTHORIZATION, format!("Bearer {}", t.expose_secret())),
            None => request,
        }
    }

    /// Sends, sending again what GitLab failed in passing: a 5xx gateway or server error, a 429
    /// (after its `Retry-After` or `RateLimit-Reset`), a timeout or a dropped connection. Every
    /// call this adapter makes may be repeated (reads, deletes, updates, statuses, and creations
    /// whose copies GitLab tolerates), except OAuth's, which go through `oauth_post`.
    pub(super) async fn send(&self, request: RequestBuilder) -> Result<Response, GitLabError> {
        let began = tokio::time::Instant::now();
        let mut attempt = 1;
        loop {
            let (client, built) = request
                .try_clone()
                .ok_or_else(|| GitLabError::Unreachable("request could not be repeated".into()))?
                .build_split();
            let built = built.map_err(|e| GitLabError::Unreachable(describe(&e)))?;
            let window = window_key(
                &built.url().origin().ascii_serialization(),
                built.headers().get(AUTHORIZATION).map(|v| v.as_bytes()),
            );
            self.pacer.before(&window).await;
            let response = client.execute(built).await;
            crate::telemetry::count_gitlab_response(response.as_ref().ok().map(|r| r.status().as_u16()));
            if let Ok(answer) = &response {
                self.pacer.after(&window, answer.headers());
            }
            let may_retry = attempt < ATTEMPTS && began.elapsed() < RETRY_BUDGET;
            let wait = match response {
                Err(err) if may_retry && (err.is_timeout() || err.is_connect()) => backoff(attempt),
                Err(err) => return Err(GitLabError::Unreachable(describe(&err))),
                Ok(response) => {
                    let status = response.status();
                    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
                    let passing = rate_limited || matches!(status.as_u16(), 500 | 502 | 503 | 504);
                    let asked = retry_after(response.headers());
                    if passing && may_retry && asked.is_none_or(|w| w <= LONGEST_RETRY_WAIT) {
                        asked.unwrap_or_else(|| backoff(attempt))
                    } else if rate_limited {
                        return Err(GitLabError::RateLimited {
                            retry_after_secs: asked.map(|w| w.as_secs()),
                        });
                    } else {
                        return check_status(response).await;
                    }
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Posts a form to GitLab's OAuth endpoints. Their refusals (`{"error": "invalid_grant"}`
    /// with 400, `invalid_client` with 401) become `OAuthRefused`; the description is dropped,
    /// as it may quote what was sent.
    pub(super) async fn oauth_post(&self, url: Url, form: &[(&str, &str)]) -> Result<Vec<u8>, GitLabError> {
        let response = self.client().post(url).form(form).send().await;
        crate::telemetry::count_gitlab_response(response.as_ref().ok().map(|r| r.status().as_u16()));
        let response = response.map_err(|e| GitLabError::Unreachable(describe(&e)))?;
        let status = response.status();
        let body = body_within(response, MOST_OAUTH_ANSWER_BYTES).await?;
        if status.is_success() {
            return Ok(body);
        }
        let refusal = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
        match refusal {
            Some(error) if status.is_client_error() => Err(GitLabError::OAuthRefused { error }),
            _ => Err(GitLabError::Status(status.as_u16())),
        }
    }

    pub(super) async fn get_json<T: DeserializeOwned>(&self, url: Url, token: &SecretString) -> Result<T, GitLabError> {
        json_within(self.send(self.get(url, Some(token))).await?).await
    }
}
