//! The small traits the handlers depend on; adapters implement them for AWS, GitLab and memory.
//!
//! Every store and vault adapter must pass the same contract tests (`tests/` runs them against
//! the embedded adapters and against moto).

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use crate::domain::gitlab::{GitLabProject, GitLabUser, TokenInfo};
use crate::domain::host::HostUrl;
use crate::domain::integration::{Installation, IntegrationRecord, Repository};

/// A storage failure. `Conflict` is a lost conditional write; anything else is the backend's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the record changed or already exists")]
    Conflict,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Integrations and their installations.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration and its installation together, or neither.
    /// `Conflict` if the id exists.
    async fn create_integration(&self, record: &IntegrationRecord, installation: Option<&Installation>) -> Result<(), StoreError>;
    async fn get_integration(&self, id: &str) -> Result<Option<IntegrationRecord>, StoreError>;
    /// All integrations (a key query, never a scan); callers filter, sort and page.
    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError>;
    /// Replaces an existing integration. `Conflict` if it no longer exists.
    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError>;
    /// Adds or replaces an installation of an existing integration.
    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError>;
    async fn list_installations(&self, integration_id: &str) -> Result<Vec<Installation>, StoreError>;
    /// Removes the integration and everything kept under it. Removing what is gone is not an error.
    async fn delete_integration(&self, id: &str) -> Result<(), StoreError>;
}

/// Repositories of integrations.
#[async_trait]
pub trait RepositoryStore: Send + Sync {
    async fn list_repositories(&self, integration_id: &str) -> Result<Vec<Repository>, StoreError>;
    async fn get_repository(&self, repository_id: &str) -> Result<Option<Repository>, StoreError>;
    /// Writes `upserts` and removes the repositories with ids in `removals`.
    async fn write_repositories(&self, integration_id: &str, upserts: &[Repository], removals: &[Repository]) -> Result<(), StoreError>;
}

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("a secret with this name exists")]
    Exists,
    #[error("no secret with this name")]
    NotFound,
    #[error("vault unavailable: {0}")]
    Unavailable(String),
}

/// Secret values, one per name (one per integration).
#[async_trait]
pub trait SecretVault: Send + Sync {
    /// Stores a new secret. `Exists` if the name is taken.
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError>;
    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError>;
    /// Replaces the value of an existing secret. `NotFound` if there is none.
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError>;
    /// Deletes at once (no recovery window). Deleting what is gone is not an error.
    async fn delete_secret(&self, name: &str) -> Result<(), VaultError>;
}

/// What went wrong talking to GitLab.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum GitLabError {
    /// 401: the token is wrong, expired or revoked (GitLab's description, if it gave one).
    #[error("GitLab rejected the token{}", .0.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Unauthorized(Option<String>),
    /// 403 insufficient_scope or a forbidden resource.
    #[error("GitLab refused: the token lacks a scope or access")]
    Forbidden,
    #[error("GitLab has no such resource")]
    NotFound,
    /// 429 after the retries allowed.
    #[error("GitLab rate limited the requests")]
    RateLimited { retry_after_secs: Option<u64> },
    #[error("GitLab is unreachable: {0}")]
    Unreachable(String),
    #[error("GitLab answered HTTP {0}")]
    Status(u16),
    #[error("GitLab's answer could not be read: {0}")]
    Decode(String),
}

/// One page of a project listing, with GitLab's paging headers.
#[derive(Debug, Clone)]
pub struct ProjectsPage {
    pub projects: Vec<GitLabProject>,
    /// `x-next-page` (or the `Link` rel="next"); `None` on the last page.
    pub next_page: Option<u32>,
    /// `x-total-pages`; GitLab omits it above 10,000 records.
    pub total_pages: Option<u32>,
}

/// An image fetched from GitLab.
#[derive(Debug, Clone)]
pub struct Avatar {
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// The GitLab REST API, as much of it as we use. `token` is a personal or OAuth access token.
#[async_trait]
pub trait GitLabApi: Send + Sync {
    async fn current_user(&self, host: &HostUrl, token: &SecretString) -> Result<GitLabUser, GitLabError>;
    async fn token_self(&self, host: &HostUrl, token: &SecretString) -> Result<TokenInfo, GitLabError>;
    /// `GET /projects?membership=true&archived=false&per_page=…&page=…`.
    async fn projects_page(&self, host: &HostUrl, token: &SecretString, page: u32, per_page: u32) -> Result<ProjectsPage, GitLabError>;
    /// Fetches an avatar image of at most `max_bytes`.
    async fn avatar(&self, url: &Url, token: Option<&SecretString>, max_bytes: usize) -> Result<Avatar, GitLabError>;
}

/// Time and ids, so tests can control both.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}
