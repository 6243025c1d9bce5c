//! `POST /v1/webhooks/gitlab` (`gitlab-webhook`): a GitLab delivery, verified and recorded once.

use lambda_http::{Body, Response};

use crate::app::webhooks::WebhookError;
use crate::app::webhooks::{self, IncomingDelivery, WebhookOutcome};
use crate::domain::ids::TriggerId;
use crate::domain::signature::SignatureHeaders;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::bad_request;
use crate::inbound::http::{App, Ctx, json};
use crate::telemetry::count_delivery;
use http::StatusCode;
use serde::Serialize;

pub(super) async fn gitlab_webhook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let delivery = IncomingDelivery {
        body: ctx.raw_body(),
        token: ctx.header("x-gitlab-token"),
        event_header: ctx.header("x-gitlab-event"),
        idempotency_key: ctx.header("idempotency-key"),
        event_uuid: ctx.header("x-gitlab-event-uuid"),
        signature: SignatureHeaders {
            id: ctx.header("webhook-id"),
            timestamp: ctx.header("webhook-timestamp"),
            signature: ctx.header("webhook-signature"),
        },
    };
    let outcome = webhooks::gitlab_webhook(&app.services, delivery).await.map_err(|err| {
        let error = ApiError::from(err);
        count_delivery(if error.status.is_server_error() {
            "failed"
        } else {
            "refused"
        });
        error
    })?;
    let answer = match outcome {
        WebhookOutcome::Ignored(reason) => WebhookResponse::Ignored {
            ok: true,
            outcome: "ignored",
            reason,
        },
        WebhookOutcome::Triggered(trigger_id) => WebhookResponse::Triggered {
            ok: true,
            outcome: "triggered",
            trigger_id,
        },
        WebhookOutcome::Duplicate => WebhookResponse::Duplicate {
            ok: true,
            duplicate: true,
        },
        WebhookOutcome::TokenExpiryRecorded => WebhookResponse::Ignored {
            ok: true,
            outcome: "recorded",
            reason: "the integration's token expiry was recorded".into(),
        },
    };
    count_delivery(match answer {
        WebhookResponse::Ignored { outcome, .. } => outcome,
        WebhookResponse::Triggered { .. } => "triggered",
        WebhookResponse::Duplicate { .. } => "duplicate",
    });
    Ok(json(StatusCode::OK, &answer))
}

/// What a verified delivery became.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WebhookResponse {
    Ignored {
        ok: bool,
        outcome: &'static str,
        reason: String,
    },
    Triggered {
        ok: bool,
        outcome: &'static str,
        trigger_id: TriggerId,
    },
    Duplicate {
        ok: bool,
        duplicate: bool,
    },
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        let message = err.to_string();
        match err {
            WebhookError::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            WebhookError::MissingToken => ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", message),
            WebhookError::InvalidPayload(_) => bad_request("invalid_payload", message),
            WebhookError::InvalidToken => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message),
            WebhookError::InvalidSignature(_) => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message),
            WebhookError::SignatureRequired => ApiError::new(StatusCode::UNAUTHORIZED, "signature_required", message),
            WebhookError::GitLabUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gitlab_unavailable",
                "GitLab could not be asked about this project; the delivery can be resent",
            ),
            WebhookError::Credentials(err) => err.into(),
            WebhookError::MasterKey(err) => err.into(),
            WebhookError::Store(err) => err.into(),
        }
    }
}
