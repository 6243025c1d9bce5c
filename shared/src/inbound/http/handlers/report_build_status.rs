//! `POST /v1/build-triggers/{id}/status` (`report-build-status`): a build's state, shown at GitLab.

use lambda_http::{Body, Response};

use crate::app::build_triggers::{self, Reporter, StatusReport};
use crate::domain::trigger::ReportedState;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::TriggerResponse;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Deserialize;

/// GitLab shows a target URL as a link: only http(s) is accepted.
fn link(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(text) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() && text.len() <= 2048 => Ok(Some(text)),
        _ => Err(ApiError::invalid_input("`target_url` must be an http or https URL")),
    }
}

pub(super) async fn report_build_status(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: StatusRequest = ctx.json()?;
    let state = ReportedState::parse(request.state.trim())
        .ok_or_else(|| ApiError::invalid_input("`state` must be running, success, failed, canceled or skipped"))?;
    let description = request
        .description
        .map(|d| d.trim().chars().take(255).collect::<String>())
        .filter(|d| !d.is_empty());
    let report = StatusReport {
        state,
        target_url: link(request.target_url)?,
        description,
    };
    let caller = ctx.caller.as_ref();
    let reporter = Reporter {
        caller: caller.map(|c| c.user_id.as_str()).unwrap_or_default(),
        may_report_any: caller.is_some_and(|c| c.role.can_write()),
    };
    let trigger = build_triggers::report_build_status(&app.services, &ctx.path_id()?, reporter, report).await?;
    Ok(json(StatusCode::OK, &TriggerResponse { trigger }))
}

/// `POST /v1/build-triggers/{id}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusRequest {
    pub state: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
}
