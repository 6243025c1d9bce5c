//! The typed request and response bodies of the API, named as Oore's contract names them.

use serde::{Deserialize, Serialize};

use crate::app::build_triggers::TriggerView;
use crate::app::commit_status::StatusReporting;
use crate::app::repositories::ListedRepository;
use crate::domain::delivery::{DeliveryOutcome, DeliveryRecord};
use crate::domain::gitlab::CredentialStatus;
use crate::domain::host::HostUrl;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::{AuthMode, Installation, IntegrationRecord, Repository};
use crate::domain::sync::{SyncRecord, SyncRunState};

/// `POST /v1/integrations/gitlab/start`.
#[derive(Debug, Deserialize)]
pub struct StartRequest {
    pub host_url: String,
    pub auth_mode: AuthMode,
    pub access_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `POST /v1/integrations/gitlab/authorize`: `{integration_id, redirect_url}` starts an
/// authorization, `{code, state}` completes one.
#[derive(Debug, Deserialize)]
pub struct AuthorizeRequest {
    pub integration_id: Option<String>,
    pub redirect_url: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
}

/// `PUT /v1/integrations/{id}/gitlab-token`.
#[derive(Debug, Deserialize)]
pub struct ReplaceTokenRequest {
    pub access_token: Option<String>,
}

/// `POST /v1/integrations/{id}/installations`.
#[derive(Debug, Deserialize, Default)]
pub struct SyncRequest {
    pub installation_id: Option<String>,
}

/// The contract's `Integration` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntegrationView {
    pub id: IntegrationId,
    pub provider: &'static str,
    pub host_url: String,
    pub auth_mode: &'static str,
    pub status: &'static str,
    pub display_name: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub app_id: Option<String>,
    pub app_slug: Option<String>,
}

impl From<&IntegrationRecord> for IntegrationView {
    fn from(record: &IntegrationRecord) -> Self {
        IntegrationView {
            id: record.id.clone(),
            provider: "gitlab",
            host_url: record.host_url.to_string(),
            auth_mode: record.auth_mode.as_str(),
            status: record.status.as_str(),
            display_name: record.display_name.clone(),
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
            app_id: None,
            app_slug: None,
        }
    }
}

/// The contract's `GitLabCompleteResponse`, plus the webhook URL, and the integration-wide
/// webhook secret and its Standard Webhooks signing key, shown only now.
#[derive(Debug, Serialize)]
pub struct StartResponse {
    pub integration: IntegrationView,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub webhook_signing_key: String,
}

#[derive(Debug, Serialize)]
pub struct AuthorizeUrlResponse {
    pub authorize_url: String,
}

#[derive(Debug, Serialize)]
pub struct IntegrationResponse {
    pub integration: IntegrationView,
}

#[derive(Debug, Serialize)]
pub struct IntegrationListResponse {
    pub integrations: Vec<IntegrationView>,
    pub total: usize,
    pub active_total: usize,
}

#[derive(Debug, Serialize)]
pub struct IntegrationDetailResponse {
    pub integration: IntegrationView,
    pub installation_count: usize,
    pub repository_count: usize,
    pub last_webhook_at: Option<i64>,
    pub status_reporting: StatusReporting,
    pub sync: Option<SyncView>,
    /// Deliveries without a valid Standard Webhooks signature are refused.
    pub require_webhook_signature: bool,
    /// The contract's `GitLabCredentialStatus` of the integration's token, now.
    pub token_status: CredentialStatus,
    /// When the token expires (Unix seconds); `null` for OAuth and tokens without an expiry.
    pub token_expires_at: Option<i64>,
}

/// The latest repository sync of an integration.
#[derive(Debug, Serialize)]
pub struct SyncView {
    pub state: SyncRunState,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub repositories_seen: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&SyncRecord> for SyncView {
    fn from(record: &SyncRecord) -> Self {
        SyncView {
            state: record.state,
            started_at: record.started_at,
            finished_at: record.finished_at,
            repositories_seen: record.repositories_seen,
            error: record.error.as_ref().map(|e| e.message.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct OkResponse {
    pub ok: bool,
}

/// The contract's `IntegrationRepository` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RepositoryView {
    pub id: RepositoryId,
    pub installation_id: String,
    /// The GitLab project id, a string.
    pub external_id: ProjectId,
    pub full_name: String,
    pub default_branch: Option<String>,
    pub is_private: bool,
    pub avatar_url: Option<String>,
    /// Archived at GitLab: listed, never built.
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Repository> for RepositoryView {
    fn from(repo: &Repository) -> Self {
        RepositoryView {
            id: repo.id.clone(),
            installation_id: repo.installation_id.clone(),
            external_id: repo.external_id,
            full_name: repo.full_name.clone(),
            default_branch: repo.default_branch.clone(),
            is_private: repo.is_private,
            avatar_url: repo.avatar_url.clone(),
            archived: repo.archived,
            created_at: repo.created_at,
            updated_at: repo.updated_at,
        }
    }
}

/// The health of the hook we registered on a repository, as GitLab last reported it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WebhookView {
    pub hook_id: u64,
    pub alert_status: Option<String>,
    pub disabled_until: Option<String>,
    pub last_delivery_at: Option<i64>,
}

/// A repository of one integration as its listing shows it: the contract's
/// `IntegrationRepository` and the hook we registered on it (`null` when none).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntegrationRepositoryView {
    #[serde(flatten)]
    pub repository: RepositoryView,
    pub webhook: Option<WebhookView>,
}

impl From<&ListedRepository> for IntegrationRepositoryView {
    fn from(listed: &ListedRepository) -> Self {
        IntegrationRepositoryView {
            repository: (&listed.repository).into(),
            webhook: listed.webhook.as_ref().and_then(|hook| {
                Some(WebhookView {
                    hook_id: hook.hook_id?,
                    alert_status: hook.alert_status.clone(),
                    disabled_until: hook.disabled_until.clone(),
                    last_delivery_at: hook.last_delivery_at,
                })
            }),
        }
    }
}

/// The contract's `SourceRepository`: a repository with the integration it belongs to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceRepositoryView {
    #[serde(flatten)]
    pub repository: RepositoryView,
    pub integration_id: IntegrationId,
    pub provider: &'static str,
    pub host_url: String,
}

impl SourceRepositoryView {
    pub fn new(repo: &Repository, host: Option<&HostUrl>) -> Self {
        SourceRepositoryView {
            repository: repo.into(),
            integration_id: repo.integration_id.clone(),
            provider: "gitlab",
            host_url: host.map(HostUrl::to_string).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RepositoryListResponse<T> {
    pub repositories: Vec<T>,
    pub total: usize,
}

/// The contract's `IntegrationInstallation` object.
#[derive(Debug, Serialize)]
pub struct InstallationView {
    pub id: String,
    pub integration_id: IntegrationId,
    pub external_id: String,
    pub account_name: String,
    pub account_type: Option<String>,
    pub created_at: i64,
}

impl From<&Installation> for InstallationView {
    fn from(i: &Installation) -> Self {
        InstallationView {
            id: i.id.clone(),
            integration_id: i.integration_id.clone(),
            external_id: i.external_id.clone(),
            account_name: i.account_name.clone(),
            account_type: i.account_type.clone(),
            created_at: i.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct InstallationListResponse {
    pub installations: Vec<InstallationView>,
}

/// The contract's `GitLabCredentialResponse`.
#[derive(Debug, Serialize)]
pub struct CredentialStatusResponse {
    pub status: CredentialStatus,
    pub expires_at: Option<i64>,
    pub checked_at: i64,
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

/// `PATCH /v1/integrations/{id}`: the settings to change (at least one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegrationRequest {
    pub require_webhook_signature: Option<bool>,
}

/// The integration with its settings, as a PATCH left them.
#[derive(Debug, Serialize)]
pub struct IntegrationSettingsResponse {
    pub integration: IntegrationView,
    pub require_webhook_signature: bool,
}

/// `POST /v1/integrations/{id}/gitlab-webhook-secret`: how long the old secret keeps working.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateIntegrationSecretRequest {
    pub grace_seconds: Option<i64>,
}

/// The new integration-wide secret, shown once.
#[derive(Debug, Serialize)]
pub struct IntegrationSecretResponse {
    pub webhook_secret: String,
    pub webhook_signing_key: String,
    pub previous_valid_until: i64,
}

#[derive(Debug, Serialize)]
pub struct RotatedSecretResponse {
    pub repository_id: RepositoryId,
    pub webhook_secret: String,
    pub rotated_at: i64,
    pub webhook_signing_key: String,
    pub previous_valid_until: i64,
    pub webhook_url: String,
}

#[derive(Debug, Serialize)]
pub struct RegisteredHookResponse {
    pub repository_id: RepositoryId,
    pub hook_id: u64,
    pub created: bool,
    pub webhook_url: String,
    /// GitLab's `alert_status` after registering (`executable` once delivering).
    pub alert_status: Option<String>,
    pub rotated_at: i64,
}

/// One entry of the delivery log.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    /// The dedupe key the delivery was recorded under.
    pub delivery_id: String,
    pub event: String,
    pub project_id: Option<ProjectId>,
    pub repository_id: Option<RepositoryId>,
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub trigger_id: Option<TriggerId>,
    pub received_at: i64,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id.clone(),
            delivery_id: d.delivery_key.clone(),
            event: d.event.clone(),
            project_id: d.project_id,
            repository_id: d.repository_id.clone(),
            outcome: d.outcome,
            reason: d.reason.clone(),
            trigger_id: d.trigger_id.clone(),
            received_at: d.received_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DeliveryListResponse {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/build-triggers/{id}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusRequest {
    pub state: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TriggerListResponse {
    pub triggers: Vec<TriggerView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TriggerResponse {
    pub trigger: TriggerView,
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
