//! `POST /v1/build-triggers/{id}/claim` (`claim-build-trigger`): the trigger, and a short-lived
//! credential to clone its repository, shown only in this answer.

use lambda_http::{Body, Response};
use secrecy::ExposeSecret;

use crate::app::build_triggers;
use crate::app::build_triggers::TriggerView;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

pub(super) async fn claim_build_trigger(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let claimed = build_triggers::claim_build_trigger(&app.services, &ctx.path_id()?, &ctx.caller_id()).await?;
    let clone = claimed.clone;
    Ok(json(
        StatusCode::OK,
        &ClaimResponse {
            trigger: claimed.trigger,
            clone: CloneView {
                url: clone.url,
                username: clone.username,
                password: clone.password.expose_secret().to_string(),
                expires_at: clone.expires_at,
            },
        },
    ))
}

/// How a build system clones the claimed trigger's repository over HTTPS.
#[derive(Debug, Serialize)]
pub struct CloneView {
    pub url: String,
    pub username: String,
    pub password: String,
    pub expires_at: i64,
}

#[derive(Debug, Serialize)]
pub struct ClaimResponse {
    pub trigger: TriggerView,
    pub clone: CloneView,
}
