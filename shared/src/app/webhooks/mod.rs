//! `gitlab-webhook`: verify a GitLab delivery, decide whether it builds, and record it exactly once.
//!
//! Checks run in the daemon's order (413, 401 missing_token, 400 invalid_payload, 401
//! invalid_token), then the Standard Webhooks signature when GitLab sent one. A warm delivery
//! reads the secret's key (by its digest), the repository and the hook record, and writes one
//! item with one conditional put (the log entry, and the trigger when it builds); the signing
//! master key is read through the cached vault, so no Secrets Manager call once warm. A fork's
//! merge request and an `/oore build` comment also ask GitLab for one user's access.

mod builds;
mod members;

use serde_json::Value;

use crate::app::Services;
use crate::app::credentials::CredentialsError;
use crate::app::hooks::delivery_note::note_delivery;
use crate::app::master_key::{MasterKeyError, master_key};
use crate::app::token_expiry::{TokenEventOutcome, record_token_event};
use crate::domain::delivery::{DeliveryOutcome, DeliveryRecord};
use crate::domain::event_kind::{EventKind, event_kind};
use crate::domain::ids::{ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::Repository;
use crate::domain::secrets::webhook_secret_digest;
use crate::domain::signature::{SignatureHeaders, verify_signature};
use crate::domain::trigger::Trigger;
use crate::domain::webhook::{BuildPolicy, Decision, decide, delivery_key, project_id};
use crate::domain::webhook_keys::WebhookKey;
use crate::ports::{GitLabError, Recorded, StoreError};
use builds::{build, repository_of};
use members::{Verdict, member_verdict};

/// Largest delivery accepted, as the daemon.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// Longer than any secret we issue; longer tokens are refused without a lookup.
const MAX_TOKEN_LEN: usize = 256;

/// A delivery as GitLab sent it: the exact body and the headers we read.
pub struct IncomingDelivery<'a> {
    pub body: &'a [u8],
    /// `X-Gitlab-Token`.
    pub token: Option<&'a str>,
    /// `X-Gitlab-Event`.
    pub event_header: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// `X-Gitlab-Event-UUID`.
    pub event_uuid: Option<&'a str>,
    pub signature: SignatureHeaders<'a>,
}

/// What became of an accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Recorded; nothing to build, for the reason given.
    Ignored(String),
    /// Recorded with a queued build trigger.
    Triggered(TriggerId),
    /// The same delivery was recorded before; nothing new was written.
    Duplicate,
    /// GitLab's warning that the integration's own token expires soon: its expiry is recorded.
    TokenExpiryRecorded,
}

/// Why a delivery was refused. GitLab resends on any answer but 2xx, so only the retryable
/// failures (`GitLabUnavailable`, backends) are worth a resend.
///
/// # Errors
/// - `TooLarge`: the body is over [`MAX_WEBHOOK_BODY`].
/// - `MissingToken`: no `X-Gitlab-Token`.
/// - `InvalidPayload`: not a JSON object, no event, or an event lacking what it must carry.
/// - `InvalidToken`: the secret is unknown, expired, another project's, or its integration cannot
///   see the project.
/// - `InvalidSignature`: a Standard Webhooks signature was sent and does not verify.
/// - `SignatureRequired`: the integration requires signed deliveries and this one is not signed.
/// - `GitLabUnavailable`: GitLab could not be asked about a project not synced yet, or about a
///   member's access.
/// - `Credentials`, `MasterKey`, `Store`: the integration's token or a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the delivery is larger than {MAX_WEBHOOK_BODY} bytes")]
    TooLarge,
    #[error("X-Gitlab-Token header required")]
    MissingToken,
    #[error("{0}")]
    InvalidPayload(String),
    #[error("the webhook token is not valid for this project")]
    InvalidToken,
    #[error("the webhook signature was refused: {0}")]
    InvalidSignature(String),
    #[error("this integration accepts only signed deliveries (webhook-id, webhook-timestamp, webhook-signature)")]
    SignatureRequired,
    #[error("GitLab could not be asked about this project: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is known of a delivery once its secret is verified.
pub(super) struct Verified {
    key: WebhookKey,
    event: String,
    project_id: Option<ProjectId>,
    delivery_key: String,
    now: i64,
    /// The delivery's repository when it was read before the decision (a group's secret).
    repository: Option<Repository>,
}

impl Verified {
    fn record(
        &self,
        services: &Services,
        outcome: DeliveryOutcome,
        reason: Option<String>,
        trigger_id: Option<TriggerId>,
    ) -> DeliveryRecord {
        DeliveryRecord {
            // Time-ordered, so entries within one second keep their order in the log.
            id: uuid::Uuid::now_v7().to_string(),
            integration_id: self.key.integration_id.clone(),
            delivery_key: self.delivery_key.clone(),
            event: self.event.clone(),
            project_id: self.project_id,
            repository_id: self
                .project_id
                .map(|p| RepositoryId::derive(&self.key.integration_id, p)),
            outcome,
            reason,
            trigger_id,
            received_at: self.now,
            expires_at: self.now + services.config.delivery_retention_secs,
        }
    }

    /// Records the delivery once (with its trigger when it builds), then notes it on its
    /// project's hook record.
    async fn record_once(
        &self,
        services: &Services,
        entry: &DeliveryRecord,
        trigger: Option<&Trigger>,
    ) -> Result<Recorded, WebhookError> {
        let recorded = services.webhooks.record_delivery(entry, trigger).await?;
        note_delivery(services, &self.key, self.project_id, self.now).await;
        Ok(recorded)
    }

    /// Logs a refusal under the integration the secret identified, then answers `error`.
    async fn refuse(&self, services: &Services, reason: &str, error: WebhookError) -> WebhookError {
        let entry = self.record(services, DeliveryOutcome::Refused, Some(reason.to_string()), None);
        if let Err(err) = services.webhooks.log_delivery(&entry).await {
            tracing::warn!(integration_id = %self.key.integration_id, error = %err, "could not log a refused delivery");
        }
        tracing::info!(integration_id = %self.key.integration_id, event = %self.event, reason, "webhook delivery refused");
        error
    }
}

/// Verifies and records one delivery.
pub async fn gitlab_webhook(
    services: &Services,
    delivery: IncomingDelivery<'_>,
) -> Result<WebhookOutcome, WebhookError> {
    let body = delivery.body;
    if body.len() > MAX_WEBHOOK_BODY {
        return Err(WebhookError::TooLarge);
    }
    let token = delivery.token.ok_or(WebhookError::MissingToken)?;
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::InvalidPayload(format!("the delivery is not valid JSON: {e}")))?;
    if !payload.is_object() {
        return Err(WebhookError::InvalidPayload("the delivery is not a JSON object".into()));
    }

    let now = services.clock.now();
    if token.len() > MAX_TOKEN_LEN {
        return Err(WebhookError::InvalidToken);
    }
    let key = services
        .webhooks
        .find_webhook_key(&webhook_secret_digest(token))
        .await?
        .filter(|k| k.accepts(token, now))
        .ok_or(WebhookError::InvalidToken)?;
    let event = event_kind(delivery.event_header, &payload);
    let project = project_id(&payload);
    let mut verified = Verified {
        event: event.as_ref().map_or("unknown", EventKind::as_str).to_string(),
        delivery_key: delivery_key(
            // Trusted only once the signature is verified below; unsigned deliveries carry none.
            delivery.signature.present().then_some(delivery.signature.id).flatten(),
            delivery.idempotency_key,
            delivery.event_uuid,
            key.integration_id.as_str(),
            event.as_ref().map_or("", EventKind::as_str),
            body,
        ),
        key,
        project_id: project,
        now,
        repository: None,
    };

    if !verified.key.covers(project) {
        return Err(verified
            .refuse(
                services,
                "the token belongs to another repository",
                WebhookError::InvalidToken,
            )
            .await);
    }
    if verified.key.require_signature && !delivery.signature.present() {
        return Err(verified
            .refuse(
                services,
                "the integration requires signed deliveries",
                WebhookError::SignatureRequired,
            )
            .await);
    }
    if delivery.signature.present() {
        let master = master_key(services).await?;
        if let Err(err) = verify_signature(&delivery.signature, body, &verified.key.signing_key(&master), now) {
            return Err(verified
                .refuse(
                    services,
                    &err.to_string(),
                    WebhookError::InvalidSignature(err.to_string()),
                )
                .await);
        }
    }
    // A group's secret proves only that the project lies under the group: its path (stored, or
    // looked up at GitLab for a project made since the last sync) is checked before the rest.
    if let (Some(_), Some(project)) = (&verified.key.group, project) {
        let repository = repository_of(services, &verified, project).await?;
        if !verified.key.covers_path(&repository.full_name) {
            let refusal = WebhookError::InvalidToken;
            return Err(verified
                .refuse(services, "the project lies outside the token's group", refusal)
                .await);
        }
        verified.repository = Some(repository);
    }
    let Some(event) = event else {
        let refusal =
            WebhookError::InvalidPayload("the delivery names no event (object_kind or X-Gitlab-Event)".into());
        return Err(verified
            .refuse(services, "no object_kind or X-Gitlab-Event", refusal)
            .await);
    };
    if event == EventKind::AccessToken {
        return token_event(services, &verified, &payload).await;
    }
    let policy = BuildPolicy {
        build_drafts: services.config.build_draft_merge_requests,
    };
    let decision = match decide(&event, &payload, policy) {
        Ok(decision) => decision,
        Err(err) => {
            return Err(verified
                .refuse(services, &err.0, WebhookError::InvalidPayload(err.0.clone()))
                .await);
        }
    };

    match decision {
        Decision::Ignore(reason) => ignore(services, &verified, reason).await,
        Decision::Build(request) => build(services, &verified, project, request, false).await,
        Decision::ForMember(gate) => match member_verdict(services, &verified, project, &gate).await? {
            Verdict::Member => build(services, &verified, project, gate.request, gate.retry).await,
            Verdict::NotMember(reason) => ignore(services, &verified, reason).await,
        },
    }
}

/// An `access_token` event: the expiry is recorded when it names the integration's token; any
/// other answers `ignored`. Either way the delivery is logged (and a repeat is a duplicate).
async fn token_event(
    services: &Services,
    verified: &Verified,
    payload: &Value,
) -> Result<WebhookOutcome, WebhookError> {
    let outcome = record_token_event(services, &verified.key.integration_id, payload).await?;
    let reason = match &outcome {
        TokenEventOutcome::Recorded => "the integration's token expiry was recorded".to_string(),
        TokenEventOutcome::Ignored(reason) => reason.clone(),
    };
    match (ignore(services, verified, reason).await?, outcome) {
        (WebhookOutcome::Ignored(_), TokenEventOutcome::Recorded) => Ok(WebhookOutcome::TokenExpiryRecorded),
        (answer, _) => Ok(answer),
    }
}

/// A delivery that builds nothing: recorded (so a repeat is a duplicate) and answered 200.
pub(super) async fn ignore(
    services: &Services,
    verified: &Verified,
    reason: String,
) -> Result<WebhookOutcome, WebhookError> {
    let entry = verified.record(services, DeliveryOutcome::Ignored, Some(reason.clone()), None);
    let recorded = verified.record_once(services, &entry, None).await?;
    match recorded {
        Recorded::Duplicate => Ok(duplicate(services, verified).await),
        Recorded::New => Ok(WebhookOutcome::Ignored(reason)),
    }
}

/// A repeat of a recorded delivery: logged as such, answered 200 so GitLab stops resending.
pub(super) async fn duplicate(services: &Services, verified: &Verified) -> WebhookOutcome {
    let entry = verified.record(services, DeliveryOutcome::Duplicate, None, None);
    if let Err(err) = services.webhooks.log_delivery(&entry).await {
        tracing::warn!(integration_id = %verified.key.integration_id, error = %err, "could not log a duplicate delivery");
    }
    WebhookOutcome::Duplicate
}
