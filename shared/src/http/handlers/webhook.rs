//! `POST /v1/webhooks/gitlab`: verify a GitLab delivery, decide whether it builds, and record it
//! exactly once.
//!
//! Checks run in the daemon's order (413, 401 missing_token, 400 invalid_payload, 401
//! invalid_token), then the Standard Webhooks signature when GitLab sent one. A warm delivery
//! costs one DynamoDB query (the secret's key, found by its digest) and one transaction (dedupe
//! marker, log entry, trigger, repository check); the signing master key is read through the
//! cached vault, so no Secrets Manager call once warm.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json as value, Value};

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::{access_token, master_key};
use crate::domain::delivery::{BuildTrigger, DeliveryOutcome, DeliveryRecord};
use crate::domain::integration::Repository;
use crate::domain::secrets::webhook_secret_digest;
use crate::domain::webhook::{decide, delivery_key, event_kind, project_id, verify_signature, Decision, SignatureHeaders};
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{GitLabError, Recorded};

/// Largest delivery accepted, as the daemon.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// Longer than any secret we issue; longer tokens are refused without a lookup.
const MAX_TOKEN_LEN: usize = 256;

fn invalid_payload(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", message)
}

fn invalid_token() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the webhook token is not valid for this project")
}

/// What is known of a delivery once its secret is verified.
struct Delivery<'a> {
    key: WebhookKey,
    event: String,
    project_id: Option<u64>,
    delivery_key: String,
    payload: &'a Value,
    now: i64,
}

impl Delivery<'_> {
    fn record(&self, app: &App, outcome: DeliveryOutcome, reason: Option<String>, trigger_id: Option<String>) -> DeliveryRecord {
        let repository_id = self.project_id.map(|p| Repository::id_for(&self.key.integration_id, &p.to_string()));
        DeliveryRecord {
            // Time-ordered, so entries within one second keep their order in the log.
            id: uuid::Uuid::now_v7().to_string(),
            integration_id: self.key.integration_id.clone(),
            delivery_key: self.delivery_key.clone(),
            event: self.event.clone(),
            project_id: self.project_id.map(|p| p.to_string()),
            repository_id,
            outcome,
            reason,
            trigger_id,
            received_at: self.now,
            expires_at: self.now + app.config.delivery_retention_secs,
        }
    }

    /// Logs a refusal under the integration the secret identified, then answers `error`.
    async fn refuse(&self, app: &App, reason: &str, error: ApiError) -> ApiError {
        let entry = self.record(app, DeliveryOutcome::Refused, Some(reason.to_string()), None);
        if let Err(err) = app.webhooks.log_delivery(&entry).await {
            tracing::warn!(integration_id = %self.key.integration_id, error = %err, "could not log a refused delivery");
        }
        tracing::info!(integration_id = %self.key.integration_id, event = %self.event, reason, "webhook delivery refused");
        error
    }
}

pub(super) async fn receive(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let body = &ctx.raw_body;
    if body.len() > MAX_WEBHOOK_BODY {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the delivery is larger than {MAX_WEBHOOK_BODY} bytes")));
    }
    let token = ctx.header("x-gitlab-token").ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", "X-Gitlab-Token header required"))?;
    let payload: Value = serde_json::from_slice(body).map_err(|e| invalid_payload(format!("the delivery is not valid JSON: {e}")))?;
    if !payload.is_object() {
        return Err(invalid_payload("the delivery is not a JSON object"));
    }

    let now = app.clock.now();
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid_token());
    }
    let key = app.webhooks.find_webhook_key(&webhook_secret_digest(token)).await?.filter(|k| k.accepts(token, now)).ok_or_else(invalid_token)?;
    let event = event_kind(ctx.header("x-gitlab-event"), &payload);
    let project = project_id(&payload);
    let delivery = Delivery {
        event: event.clone().unwrap_or_else(|| "unknown".into()),
        delivery_key: delivery_key(ctx.header("idempotency-key"), ctx.header("x-gitlab-event-uuid"), &key.integration_id, event.as_deref().unwrap_or(""), body),
        key,
        project_id: project,
        payload: &payload,
        now,
    };

    if !delivery.key.covers(project) {
        return Err(delivery.refuse(app, "the token belongs to another repository", invalid_token()).await);
    }
    let signature = SignatureHeaders { id: ctx.header("webhook-id"), timestamp: ctx.header("webhook-timestamp"), signature: ctx.header("webhook-signature") };
    if signature.present() {
        let master = master_key(app).await?;
        if let Err(err) = verify_signature(&signature, body, &delivery.key.signing_key(&master), now) {
            let refusal = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", format!("the webhook signature was refused: {err}"));
            return Err(delivery.refuse(app, &err.to_string(), refusal).await);
        }
    }
    let Some(event) = event else {
        return Err(delivery.refuse(app, "no object_kind or X-Gitlab-Event", invalid_payload("the delivery names no event (object_kind or X-Gitlab-Event)")).await);
    };
    let decision = match decide(&event, &payload) {
        Ok(decision) => decision,
        Err(err) => return Err(delivery.refuse(app, &err.0, invalid_payload(err.0.clone())).await),
    };

    match decision {
        Decision::Ignore(reason) => {
            let entry = delivery.record(app, DeliveryOutcome::Ignored, Some(reason.clone()), None);
            match app.webhooks.record_delivery(&entry, None, None).await? {
                Recorded::Duplicate => duplicate(app, &delivery).await,
                _ => Ok(json(StatusCode::OK, &value!({ "ok": true, "outcome": "ignored", "reason": reason }))),
            }
        }
        Decision::Build(request) => {
            let Some(project) = project else {
                return Err(delivery.refuse(app, "the event names no project", invalid_payload("the delivery names no project (project.id)")).await);
            };
            let project_text = project.to_string();
            let repository_id = Repository::id_for(&delivery.key.integration_id, &project_text);
            let full_name = delivery.payload.pointer("/project/path_with_namespace").and_then(Value::as_str).map(str::to_string);
            let trigger = BuildTrigger::queued(request, &delivery.key.integration_id, &repository_id, &project_text, full_name, &delivery.delivery_key, now);
            let entry = delivery.record(app, DeliveryOutcome::Triggered, None, Some(trigger.id.clone()));
            let mut recorded = app.webhooks.record_delivery(&entry, Some(&trigger), Some(&project_text)).await?;
            if recorded == Recorded::RepositoryMissing {
                adopt_repository(app, &delivery, project).await?;
                recorded = app.webhooks.record_delivery(&entry, Some(&trigger), Some(&project_text)).await?;
            }
            match recorded {
                Recorded::New => {
                    tracing::info!(integration_id = %trigger.integration_id, trigger_id = %trigger.id, event = ?trigger.build.event, "build triggered");
                    Ok(json(StatusCode::OK, &value!({ "ok": true, "outcome": "triggered", "trigger_id": trigger.id })))
                }
                Recorded::Duplicate => duplicate(app, &delivery).await,
                Recorded::RepositoryMissing => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", "the repository could not be recorded; try again shortly")),
            }
        }
    }
}

/// A repeat of a recorded delivery: logged as such, answered 200 so GitLab stops resending.
async fn duplicate(app: &App, delivery: &Delivery<'_>) -> Result<Response<Body>, ApiError> {
    let entry = delivery.record(app, DeliveryOutcome::Duplicate, None, None);
    if let Err(err) = app.webhooks.log_delivery(&entry).await {
        tracing::warn!(integration_id = %delivery.key.integration_id, error = %err, "could not log a duplicate delivery");
    }
    Ok(json(StatusCode::OK, &value!({ "ok": true, "duplicate": true })))
}

/// A delivery for a project not synced yet: look it up at GitLab once and store it, instead of
/// dropping the build. A project the integration cannot see is refused like a wrong token.
async fn adopt_repository(app: &App, delivery: &Delivery<'_>, project_id: u64) -> Result<(), ApiError> {
    let integration_id = &delivery.key.integration_id;
    let integration = app.integrations.get_integration(integration_id).await?.ok_or_else(invalid_token)?;
    let token = access_token(app, &integration).await?;
    let project = match app.gitlab.project(&integration.host_url, &token, project_id).await {
        Ok(project) => project,
        Err(GitLabError::NotFound | GitLabError::Forbidden) => {
            return Err(delivery.refuse(app, "the integration cannot see this project at GitLab", invalid_token()).await);
        }
        Err(err) => {
            tracing::warn!(integration_id = %integration_id, error = %err, "project lookup for a webhook failed");
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "gitlab_unavailable", "GitLab could not be asked about this project; the delivery can be resent"));
        }
    };
    let installation_id = app.integrations.list_installations(integration_id).await?.into_iter().map(|i| i.id).next().unwrap_or_default();
    let repository = project.to_repository(integration_id, &installation_id, delivery.now);
    app.repositories.write_repositories(integration_id, &[repository], &[]).await?;
    tracing::info!(integration_id = %integration_id, project_id, "repository recorded from a webhook delivery");
    Ok(())
}
