//! How GitLab's answers are read: bodies up to a bound, statuses as errors, paging headers,
//! `Retry-After`, token answers that must never be quoted, and error texts without URLs.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::adapters::gitlab_http::pacing::unix_now;
use crate::domain::oauth::OAuthTokens;
use crate::ports::GitLabError;

/// GitLab's token answer. A parse error could quote the answer, which holds tokens, so only
/// the fact is reported.
pub(super) fn read_token_answer(body: &[u8]) -> Result<OAuthTokens, GitLabError> {
    OAuthTokens::from_json(body)
        .map_err(|_| GitLabError::Decode("GitLab's token answer is not in the expected form".into()))
}

/// An error's text without the URL, which could carry a query we would rather not log.
pub(super) fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_decode() || err.is_body() {
        "unreadable answer"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// How long GitLab asks us to wait: `Retry-After` (seconds), else `RateLimit-Reset` (the Unix
/// time its window resets).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = |name| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let Some(wait) = seconds(RETRY_AFTER.as_str()) {
        return Some(Duration::from_secs(wait));
    }
    let reset = seconds("ratelimit-reset")?;
    Some(Duration::from_secs(reset.saturating_sub(unix_now())))
}

pub(super) fn header_u32(headers: &HeaderMap, name: &str) -> Option<u32> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `page` of the `Link` header's rel="next" URL, for answers without `x-next-page`.
pub(super) fn link_next_page(headers: &HeaderMap) -> Option<u32> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| {
            let url = part
                .split(';')
                .next()?
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>');
            let url = Url::parse(url).ok()?;
            url.query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
        })
}

/// The most of one answer we read: a page of 100 projects with every field is well under a
/// megabyte; a host sending more is not GitLab, or not well.
pub(super) const MOST_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// An answer's body, refused once it passes `most` bytes (by its length, or as it streams in).
pub(super) async fn body_within(mut response: Response, most: usize) -> Result<Vec<u8>, GitLabError> {
    let too_long = || GitLabError::Decode(format!("GitLab's answer is longer than {most} bytes"));
    if response.content_length().is_some_and(|len| len > most as u64) {
        return Err(too_long());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| GitLabError::Unreachable(describe(&e)))?
    {
        if body.len() + chunk.len() > most {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An answer's JSON body, read within [`MOST_ANSWER_BYTES`].
pub(super) async fn json_within<T: DeserializeOwned>(response: Response) -> Result<T, GitLabError> {
    let body = body_within(response, MOST_ANSWER_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| GitLabError::Decode(e.to_string()))
}

pub(super) async fn check_status(response: Response) -> Result<Response, GitLabError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(match status {
        StatusCode::UNAUTHORIZED => {
            // Two shapes: {"message": "401 Unauthorized"} and {"error": "invalid_token", "error_description": "..."}.
            let body: serde_json::Value = json_within(response).await.unwrap_or_default();
            let description = body
                .get("error_description")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            GitLabError::Unauthorized(description)
        }
        StatusCode::FORBIDDEN => GitLabError::Forbidden,
        StatusCode::NOT_FOUND => GitLabError::NotFound,
        StatusCode::BAD_REQUEST => {
            // `{"message": …}`, a text or an object of fields; only a status names a pipeline.
            let body: serde_json::Value = json_within(response).await.unwrap_or_default();
            let message = body.get("message").map(ToString::to_string).unwrap_or_default();
            if message.to_lowercase().contains("pipeline") {
                GitLabError::PipelineRefused
            } else {
                GitLabError::Status(400)
            }
        }
        other => GitLabError::Status(other.as_u16()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_next_page_from_link_when_header_is_missing() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static("<https://gl/api/v4/projects?page=1&per_page=100>; rel=\"prev\", <https://gl/api/v4/projects?page=3&per_page=100>; rel=\"next\""),
        );
        assert_eq!(link_next_page(&headers), Some(3));
        headers.insert(
            "link",
            HeaderValue::from_static("<https://gl/api/v4/projects?page=1>; rel=\"first\""),
        );
        assert_eq!(link_next_page(&headers), None);
    }

    #[test]
    fn empty_next_page_header_means_last_page() {
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(header_u32(&headers, "x-next-page"), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }
}
