//! Tokens that run out: the daily check of every integration's token (an EventBridge schedule on
//! AWS, a timer in the local runner), and GitLab's own warning, the `access_token` event a
//! project or group access token's hooks receive 7 days ahead. Both record the expiry on the
//! integration; the daily check publishes `Token Expiring` for what expires within 30 days.

use serde_json::{Value, json};

use crate::app::Services;
use crate::app::tokens::check_gitlab_token;
use crate::domain::credential::{CredentialStatus, expiry_from_date};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::ports::{BuildEvents, StoreError};

/// What one daily check did (the scheduled function's answer).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckSummary {
    pub checked: usize,
    /// `Token Expiring` events published (expiring or expired tokens).
    pub expiring: usize,
    /// Integrations whose token could not be checked (GitLab or a backend failed); the next
    /// check tries again.
    pub failed: usize,
}

/// The detail of a `Token Expiring` event.
fn expiring_event(record: &IntegrationRecord, status: CredentialStatus, expires_at: Option<i64>) -> Value {
    json!({
        "integration_id": record.id,
        "host_url": record.host_url.to_string(),
        "display_name": record.display_name,
        "token_status": status,
        "token_expires_at": expires_at,
    })
}

/// Checks the token of every integration that has one of its own (personal, project or group
/// tokens: an OAuth connection renews itself and shows `rejected` only once a refresh is
/// refused), records what GitLab says, and publishes `Token Expiring` for each token that
/// expires within 30 days or has expired (on `events`, where there is a bus; the local runner
/// has none and logs it).
///
/// # Errors
/// The integrations could not be listed; nothing was checked.
pub async fn check_all_tokens(
    services: &Services,
    events: Option<&dyn BuildEvents>,
) -> Result<CheckSummary, StoreError> {
    let mut summary = CheckSummary::default();
    let integrations = services.integrations.list_integrations().await?;
    let due = integrations.iter().filter(|r| {
        r.deleted_at.is_none() && r.auth_mode == AuthMode::PersonalToken && r.status != IntegrationStatus::Inactive
    });
    for record in due {
        summary.checked += 1;
        let health = match check_gitlab_token(services, &record.id).await {
            Ok(health) => health,
            Err(err) => {
                summary.failed += 1;
                tracing::warn!(integration_id = %record.id, error = %err, "the daily token check failed");
                continue;
            }
        };
        if matches!(health.status, CredentialStatus::Expiring | CredentialStatus::Expired) {
            let detail = expiring_event(record, health.status, health.expires_at);
            tracing::warn!(integration_id = %record.id, status = ?health.status, expires_at = ?health.expires_at, "an integration's token expires soon");
            let published = match events {
                Some(events) => events.publish_token_expiring(&detail).await,
                None => Ok(()),
            };
            match published {
                Ok(()) => summary.expiring += 1,
                Err(err) => {
                    summary.failed += 1;
                    tracing::warn!(integration_id = %record.id, error = %err, "Token Expiring not published");
                }
            }
        }
    }
    tracing::info!(
        checked = summary.checked,
        expiring = summary.expiring,
        failed = summary.failed,
        "daily token check done"
    );
    Ok(summary)
}

/// What an `access_token` delivery meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEventOutcome {
    /// It named the integration's own token: its expiry is recorded.
    Recorded,
    /// It named another token (GitLab sends every project token's event to every hook).
    Ignored(String),
}

/// Records the expiry an `access_token` event (GitLab's `expiring_access_token`) announces, when
/// it names the integration's own token.
///
/// # Errors
/// Storage failed.
pub async fn record_token_event(
    services: &Services,
    integration_id: &IntegrationId,
    payload: &Value,
) -> Result<TokenEventOutcome, StoreError> {
    let token_id = payload.pointer("/object_attributes/id").and_then(Value::as_u64);
    let expires_at = expiry_from_date(payload.pointer("/object_attributes/expires_at").and_then(Value::as_str));
    let Some(record) = services.integrations.get_integration(integration_id).await? else {
        return Ok(TokenEventOutcome::Ignored("the integration no longer exists".into()));
    };
    if token_id.is_none() || record.gitlab_token_id != token_id {
        return Ok(TokenEventOutcome::Ignored(
            "the event is about another token than the integration's".into(),
        ));
    }
    let Some(expires_at) = expires_at else {
        return Ok(TokenEventOutcome::Ignored("the event names no expiry date".into()));
    };
    let now = services.clock.now();
    services
        .modify_integration(integration_id, |stored| {
            stored.token_expires_at = Some(expires_at);
            stored.updated_at = now;
        })
        .await?;
    tracing::info!(%integration_id, expires_at, "GitLab warned that the integration's token expires");
    Ok(TokenEventOutcome::Recorded)
}
