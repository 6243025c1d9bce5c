//! The contract's objects that several endpoints answer with (an integration, a repository,
//! an installation, a trigger); each endpoint's own bodies live in its handler's file.

use serde::Serialize;

use crate::app::build_triggers::TriggerView;
use crate::domain::credential::CredentialStatus;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::sync::{SyncRecord, SyncRunState};

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

#[derive(Debug, Serialize)]
pub struct TriggerResponse {
    pub trigger: TriggerView,
}
