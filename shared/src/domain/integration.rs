//! Integrations, installations and repositories: the records we keep and the shapes Oore's UI reads.

use serde::{Deserialize, Serialize};

use crate::domain::credential::{CredentialStatus, status_from_expiry};
use crate::domain::host::HostUrl;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};

/// How an integration authenticates at GitLab. Only the GitLab modes are served here; the
/// others exist in the contract's enum and are refused with a clear message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    PersonalToken,
    OauthApp,
    GithubApp,
    LocalPath,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::PersonalToken => "personal_token",
            AuthMode::OauthApp => "oauth_app",
            AuthMode::GithubApp => "github_app",
            AuthMode::LocalPath => "local_path",
        }
    }
}

/// The integration's lifecycle: `inactive` until credentials work, `error` once GitLab refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Active,
    Inactive,
    Error,
}

impl IntegrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Active => "active",
            IntegrationStatus::Inactive => "inactive",
            IntegrationStatus::Error => "error",
        }
    }
}

/// The integration as stored: the contract's fields plus what only we need.
/// Never holds a secret value; credentials live in the vault under [`IntegrationRecord::id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationRecord {
    pub id: IntegrationId,
    pub host_url: HostUrl,
    pub auth_mode: AuthMode,
    pub status: IntegrationStatus,
    pub display_name: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// GitLab user id the credentials act as; a replacement token must belong to the same user.
    pub gitlab_user_id: Option<u64>,
    /// Access token expiry (Unix seconds): a personal token's end of day, or an OAuth token's
    /// issue time plus `expires_in`.
    pub token_expires_at: Option<i64>,
    /// The OAuth application's client id (its secret lives in the vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
    /// The scopes GitLab reported for a personal token (OAuth applications are granted `api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab_scopes: Option<Vec<String>>,
    /// Set when a delete answered: the integration is gone for every caller while its items
    /// are removed in the background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// The token-refresh lease: held by one refresher at a time (absent when free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease_owner: Option<String>,
    /// Bumped by every write of the record. A whole-record write names the version it read, so
    /// it cannot undo a change made meanwhile (a status, a lease, a token expiry).
    #[serde(default)]
    pub record_version: u64,
    /// Bumped whenever the stored credentials change (a replaced token, a refresh). A warm
    /// function's cached credentials of an older version are read again.
    #[serde(default)]
    pub credentials_version: u64,
    /// Deliveries must carry a valid Standard Webhooks signature; unsigned ones are refused.
    #[serde(default)]
    pub require_webhook_signature: bool,
    /// The personal, project or group token's id at GitLab (its expiry events name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab_token_id: Option<u64>,
}

impl IntegrationRecord {
    /// A new integration with a fresh id, no credentials facts yet and no lease.
    pub fn new(
        host_url: HostUrl,
        auth_mode: AuthMode,
        status: IntegrationStatus,
        display_name: String,
        created_by: String,
        now: i64,
    ) -> Self {
        IntegrationRecord {
            id: IntegrationId::generate(),
            host_url,
            auth_mode,
            status,
            display_name: Some(display_name),
            created_by,
            created_at: now,
            updated_at: now,
            gitlab_user_id: None,
            token_expires_at: None,
            oauth_client_id: None,
            gitlab_scopes: None,
            deleted_at: None,
            refresh_lease_until: None,
            refresh_lease_owner: None,
            record_version: 0,
            credentials_version: 0,
            require_webhook_signature: false,
            gitlab_token_id: None,
        }
    }
}

impl IntegrationRecord {
    /// Takes the token-refresh lease for `owner` until `until`, unless an unexpired one is held
    /// at `now`; a new version, so a whole-record write read before cannot drop it.
    pub fn take_refresh_lease(&mut self, owner: &str, now: i64, until: i64) -> bool {
        if self.refresh_lease_until.is_some_and(|held| held >= now) {
            return false;
        }
        self.refresh_lease_until = Some(until);
        self.refresh_lease_owner = Some(owner.to_string());
        self.record_version += 1;
        true
    }

    /// Drops the refresh lease if `owner` holds it; false if it was lost to another owner.
    pub fn release_refresh_lease(&mut self, owner: &str) -> bool {
        if self.refresh_lease_owner.as_deref() != Some(owner) {
            return false;
        }
        self.refresh_lease_until = None;
        self.refresh_lease_owner = None;
        true
    }

    /// What the integration's token is worth at `now`, and when it expires (Unix seconds).
    /// An OAuth connection is `valid` unless GitLab refused its refresh: its stored expiry is the
    /// 2-hour access token's, which says nothing of the connection. A personal, project or group
    /// token (any other mode) is `rejected` once GitLab refused it, else judged by its expiry.
    pub fn token_status(&self, now: i64) -> (CredentialStatus, Option<i64>) {
        match (self.auth_mode, self.status) {
            (AuthMode::OauthApp, IntegrationStatus::Error) => (CredentialStatus::Rejected, None),
            (AuthMode::OauthApp, IntegrationStatus::Inactive) => (CredentialStatus::Unknown, None),
            (AuthMode::OauthApp, IntegrationStatus::Active) => (CredentialStatus::Valid, None),
            (_, status) => match status_from_expiry(self.token_expires_at, now) {
                CredentialStatus::Expired => (CredentialStatus::Expired, self.token_expires_at),
                _ if status == IntegrationStatus::Error => (CredentialStatus::Rejected, self.token_expires_at),
                judged => (judged, self.token_expires_at),
            },
        }
    }
}

/// The GitLab account an integration's credentials act as (the contract's `IntegrationInstallation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub id: String,
    pub integration_id: IntegrationId,
    /// GitLab username.
    pub external_id: String,
    pub account_name: String,
    pub account_type: Option<String>,
    pub created_at: i64,
}

impl Installation {
    /// The installation of the GitLab user an integration's credentials act as.
    pub fn for_user(integration_id: &IntegrationId, username: &str, now: i64) -> Self {
        Installation {
            id: uuid::Uuid::new_v4().to_string(),
            integration_id: integration_id.clone(),
            external_id: username.to_string(),
            account_name: username.to_string(),
            account_type: Some("user".into()),
            created_at: now,
        }
    }
}

/// A GitLab project the integration reaches (the contract's `IntegrationRepository`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: RepositoryId,
    pub integration_id: IntegrationId,
    pub installation_id: String,
    /// GitLab project id (a string in storage and answers).
    pub external_id: ProjectId,
    /// `path_with_namespace`.
    pub full_name: String,
    pub default_branch: Option<String>,
    pub is_private: bool,
    pub avatar_url: Option<String>,
    /// GitLab's `http_url_to_repo`; absent for repositories synced before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_url: Option<String>,
    /// Archived at GitLab: listed, never built.
    #[serde(default)]
    pub archived: bool,
    /// The sync pass that last wrote it (0: written outside a pass, e.g. from a webhook).
    #[serde(default)]
    pub sync_generation: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Repository {
    /// The HTTPS clone URL: GitLab's own, else the one GitLab derives from host and path.
    pub fn clone_url_on(&self, host: &HostUrl) -> String {
        self.clone_url
            .clone()
            .unwrap_or_else(|| format!("{}/{}.git", host.as_str(), self.full_name))
    }
}
