//! `POST /v1/webhooks/gitlab` (`gitlab-webhook`): a GitLab delivery, verified and recorded once.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::webhooks::{self, IncomingDelivery, WebhookOutcome};
use crate::domain::webhook::SignatureHeaders;
use crate::inbound::http::bodies::WebhookResponse;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::{App, Ctx, json};
use crate::telemetry::count_delivery;

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
