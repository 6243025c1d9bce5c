//! The error envelope `{"error", "code", "details"?}`: what every failure looks like to a caller.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

/// An error as the caller sees it. Messages are written for a person and never carry a
/// token, secret or code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&Envelope {
            error: &self.message,
            code: self.code,
            details: self.details.as_deref(),
        })
        .unwrap_or_else(|_| r#"{"error":"internal error","code":"internal"}"#.into());
        Response::builder()
            .status(self.status)
            .header("content-type", "application/json")
            .body(Body::Text(body))
            .unwrap_or_default()
    }
}
