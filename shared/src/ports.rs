//! The small traits the handlers depend on; adapters implement them for AWS, GitLab and memory.
//!
//! Every store and vault adapter must pass the same contract tests (`tests/` runs them against
//! the embedded adapters and against moto).

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use crate::domain::delivery::DeliveryRecord;
use crate::domain::gitlab::{GitLabProject, GitLabUser, ProjectHook, TokenInfo};
use crate::domain::host::HostUrl;
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::{Installation, IntegrationRecord, Repository};
use crate::domain::name_index::{IndexEntry, IndexSlice};
use crate::domain::oauth::{OAuthClient, OAuthTokens, PendingAuthorization};
use crate::domain::sync::SyncRecord;
use crate::domain::trigger::{Trigger, TriggerStatus};
use crate::domain::webhook_keys::WebhookKey;

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
    /// Creates the integration, its installation and its integration-wide webhook key together,
    /// or none of them. `Conflict` if the id exists.
    async fn create_integration(
        &self,
        record: &IntegrationRecord,
        installation: Option<&Installation>,
        webhook_key: Option<&WebhookKey>,
    ) -> Result<(), StoreError>;
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<IntegrationRecord>, StoreError>;
    /// All integrations (a key query, never a scan); callers filter, sort and page.
    async fn list_integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError>;
    /// Replaces an existing integration. `Conflict` if it no longer exists.
    async fn update_integration(&self, record: &IntegrationRecord) -> Result<(), StoreError>;
    /// Adds or replaces an installation of an existing integration.
    async fn put_installation(&self, installation: &Installation) -> Result<(), StoreError>;
    async fn list_installations(&self, integration_id: &IntegrationId) -> Result<Vec<Installation>, StoreError>;
    /// Removes what must stop the moment a delete answers: the integration's webhook keys (its
    /// deliveries are refused) and its build triggers.
    async fn retire_integration(&self, id: &IntegrationId) -> Result<(), StoreError>;
    /// Removes the integration and everything kept under it. Removing what is gone is not an error.
    async fn delete_integration(&self, id: &IntegrationId) -> Result<(), StoreError>;
    /// Takes the integration's token-refresh lease for `owner` until `until`, unless another
    /// owner holds an unexpired one. Only the holder may talk to GitLab's token endpoint, so one
    /// refresh reaches GitLab at a time across all Lambdas. `Ok(false)` if someone else holds it.
    async fn acquire_refresh_lease(
        &self,
        id: &IntegrationId,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// Writes `record` (which carries no lease) if `owner` still holds the lease, releasing it.
    /// `Conflict` if the lease was lost.
    async fn complete_refresh(&self, record: &IntegrationRecord, owner: &str) -> Result<(), StoreError>;
}

/// OAuth authorizations in progress, single use.
#[async_trait]
pub trait OAuthStateStore: Send + Sync {
    async fn put_oauth_state(&self, pending: &PendingAuthorization) -> Result<(), StoreError>;
    /// Removes and returns the pending authorization, atomically: of two callers presenting the
    /// same state, one gets it and the other `None`.
    async fn take_oauth_state(&self, state_digest: &str) -> Result<Option<PendingAuthorization>, StoreError>;
}

/// Repositories of integrations.
#[async_trait]
pub trait RepositoryStore: Send + Sync {
    async fn list_repositories(&self, integration_id: &IntegrationId) -> Result<Vec<Repository>, StoreError>;
    async fn get_repository(&self, repository_id: &RepositoryId) -> Result<Option<Repository>, StoreError>;
    /// The stored repositories of these GitLab projects (those that exist).
    async fn get_repositories(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<Repository>, StoreError>;
    /// The repositories no pass since `generation` has written (a complete pass's leftovers).
    async fn stale_repositories(
        &self,
        integration_id: &IntegrationId,
        generation: u64,
    ) -> Result<Vec<Repository>, StoreError>;
    /// Entries `offset..offset + limit` of the integration's name index (all from `offset` when
    /// `limit` is `None`) and the index's size; `None` when no index was written yet.
    async fn read_name_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError>;
    /// Replaces the integration's name index with `entries` (sorted).
    async fn write_name_index(&self, integration_id: &IntegrationId, entries: &[IndexEntry]) -> Result<(), StoreError>;
    /// Records the project hook we registered for a project (one per project; replaces).
    async fn put_hook(
        &self,
        integration_id: &IntegrationId,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), StoreError>;
    /// The project hooks we registered: project and hook id.
    async fn list_hooks(&self, integration_id: &IntegrationId) -> Result<Vec<(ProjectId, u64)>, StoreError>;
    /// Writes `upserts` and removes the repositories with ids in `removals`.
    async fn write_repositories(
        &self,
        integration_id: &IntegrationId,
        upserts: &[Repository],
        removals: &[Repository],
    ) -> Result<(), StoreError>;
}

/// What became of an attempt to record a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The delivery, its dedupe marker and its trigger (if any) were written.
    New,
    /// A delivery with the same key was recorded before; nothing was written.
    Duplicate,
    /// The delivery needs a repository that is not stored; nothing was written.
    RepositoryMissing,
}

/// Webhook keys, the delivery log and build triggers.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// The key whose digest is `digest`, valid or not (callers check validity).
    async fn find_webhook_key(&self, digest: &str) -> Result<Option<WebhookKey>, StoreError>;
    /// Every key of one scope: the integration-wide keys (`project_id` None) or one project's.
    async fn webhook_keys(
        &self,
        integration_id: &IntegrationId,
        project_id: Option<ProjectId>,
    ) -> Result<Vec<WebhookKey>, StoreError>;
    /// Makes `new` the current key of its scope: the keys current until now stay valid until
    /// `previous_valid_until`, keys whose grace has ended are removed. `Conflict` if another
    /// rotation of the same scope won the race.
    async fn rotate_webhook_key(&self, new: &WebhookKey, previous_valid_until: i64, now: i64)
    -> Result<(), StoreError>;
    /// Records a delivery, its dedupe marker and its trigger, all or nothing. `repository` is the
    /// GitLab project whose repository must be stored for the trigger to be written.
    async fn record_delivery(
        &self,
        delivery: &DeliveryRecord,
        trigger: Option<&Trigger>,
        repository: Option<ProjectId>,
    ) -> Result<Recorded, StoreError>;
    /// Adds a log entry that needs no dedupe (a duplicate's or a refusal's).
    async fn log_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError>;
    /// The newest deliveries first, `limit` at a time; the cursor continues where a page ended.
    async fn list_deliveries(
        &self,
        integration_id: &IntegrationId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError>;
}

/// Sync records, one per integration.
#[async_trait]
pub trait SyncStore: Send + Sync {
    async fn get_sync(&self, integration_id: &IntegrationId) -> Result<Option<SyncRecord>, StoreError>;
    /// Writes `record` if the stored one is the version it was made from (`record.version - 1`;
    /// none stored for version 1). `Conflict` for the loser of a race.
    async fn put_sync(&self, record: &SyncRecord) -> Result<(), StoreError>;
}

/// A request to run (or go on with) an integration's sync pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncJob {
    pub integration_id: IntegrationId,
    pub generation: u64,
    /// Not a sync: remove a deleted integration's items.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub purge: bool,
}

/// Where sync jobs wait for a worker (an SQS queue on AWS, a background task locally).
#[async_trait]
pub trait SyncQueue: Send + Sync {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError>;
}

/// A job could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("the sync job could not be queued: {0}")]
pub struct QueueError(pub String);

/// Which triggers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerFilter {
    pub status: Option<TriggerStatus>,
    pub integration_id: Option<IntegrationId>,
}

/// Build triggers: the queue build systems read, claim and report on.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    async fn get_trigger(&self, id: &TriggerId) -> Result<Option<Trigger>, StoreError>;
    /// Up to `limit` triggers matching `filter`, oldest first, after the queue position `after`
    /// ([`Trigger::queue_position`]).
    async fn list_triggers(
        &self,
        filter: &TriggerFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Trigger>, StoreError>;
    /// Replaces the trigger if the stored one is still the version `updated` was made from
    /// (`updated.version - 1`): of two writers racing, one wins. `Conflict` for the other, and
    /// when the trigger is gone.
    async fn update_trigger(&self, updated: &Trigger) -> Result<(), StoreError>;
}

/// The hand-off of new triggers, after their delivery was answered: a pending commit status at
/// GitLab and a `Build Triggered` event. On AWS the table's stream carries new triggers to a
/// function of their own, so enqueueing does nothing there; locally a background task takes them.
pub trait TriggerHandoff: Send + Sync {
    /// Never blocks and never fails the delivery: what cannot be handed off is logged.
    fn enqueue(&self, trigger: &Trigger);
}

/// Where `Build Triggered` events go (an EventBridge bus on AWS).
#[async_trait]
pub trait BuildEvents: Send + Sync {
    /// Publishes one event whose detail is `detail` (a trigger as the API shows it).
    async fn publish_build_triggered(&self, detail: &serde_json::Value) -> Result<(), EventsError>;
}

/// An event could not be published.
#[derive(Debug, thiserror::Error)]
#[error("the event could not be published: {0}")]
pub struct EventsError(pub String);

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
    /// Reads past any cache: for values another Lambda may just have changed (rotated tokens).
    async fn get_secret_fresh(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        self.get_secret(name).await
    }
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
    /// The OAuth token endpoint refused (`invalid_grant`, `invalid_client`, …).
    #[error("GitLab refused the OAuth request: {error}")]
    OAuthRefused { error: String },
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

/// A keyset page request: projects with `id_after < id < id_before`, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysetRange {
    pub id_after: Option<u64>,
    pub id_before: Option<u64>,
    /// Newest (highest id) first.
    pub descending: bool,
    pub per_page: u32,
}

/// One keyset page.
#[derive(Debug, Clone)]
pub struct KeysetPage {
    pub projects: Vec<GitLabProject>,
    /// GitLab's `Link: rel="next"`: more projects lie in the range.
    pub has_next: bool,
    /// False when GitLab answered with offset pages instead (keyset not offered there).
    pub keyset: bool,
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
    async fn projects_page(
        &self,
        host: &HostUrl,
        token: &SecretString,
        page: u32,
        per_page: u32,
    ) -> Result<ProjectsPage, GitLabError>;
    /// `GET /projects?membership=true&archived=false&pagination=keyset&order_by=id` within `range`.
    async fn projects_keyset(
        &self,
        host: &HostUrl,
        token: &SecretString,
        range: &KeysetRange,
    ) -> Result<KeysetPage, GitLabError>;
    /// Fetches an avatar image of at most `max_bytes`.
    async fn avatar(&self, url: &Url, token: Option<&SecretString>, max_bytes: usize) -> Result<Avatar, GitLabError>;
    /// `GET /projects/:id`.
    async fn project(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
    ) -> Result<GitLabProject, GitLabError>;
    /// `GET /projects/:id/hooks` (every page).
    async fn project_hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
    ) -> Result<Vec<ProjectHook>, GitLabError>;
    /// `POST /projects/:id/hooks`, or `PUT /projects/:id/hooks/:hook_id` when `hook_id` is given.
    async fn save_project_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError>;
    /// `DELETE /projects/:id/hooks/:hook_id`.
    async fn delete_project_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), GitLabError>;
    /// `GET /api/v4/version` without a token: Ok when GitLab answers at all (401 included).
    async fn reachable(&self, host: &HostUrl) -> Result<(), GitLabError>;
    /// `POST /oauth/token` with `grant_type=authorization_code` and the PKCE verifier.
    async fn exchange_code(
        &self,
        host: &HostUrl,
        client: &OAuthClient,
        code: &str,
        redirect_uri: &str,
        verifier: &SecretString,
    ) -> Result<OAuthTokens, GitLabError>;
    /// `POST /oauth/token` with `grant_type=refresh_token`. GitLab revokes the old refresh token.
    async fn refresh_tokens(
        &self,
        host: &HostUrl,
        client: &OAuthClient,
        refresh_token: &SecretString,
    ) -> Result<OAuthTokens, GitLabError>;
    /// `POST /oauth/revoke`.
    async fn revoke_token(&self, host: &HostUrl, client: &OAuthClient, token: &SecretString)
    -> Result<(), GitLabError>;
    /// `POST /projects/:id/deploy_tokens`: a token that may only read the repository, until `expires_at`.
    async fn create_deploy_token(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        name: &str,
        expires_at: i64,
    ) -> Result<DeployToken, GitLabError>;
    /// `DELETE /projects/:id/deploy_tokens/:token_id`.
    async fn revoke_deploy_token(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        token_id: u64,
    ) -> Result<(), GitLabError>;
    /// `POST /projects/:id/statuses/:sha`.
    async fn post_commit_status(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitLabError>;
}

/// A project deploy token as GitLab issued it: the secret is shown only in that answer.
pub struct DeployToken {
    pub id: u64,
    pub username: String,
    pub token: SecretString,
}

/// A commit status to report (GitLab's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// `pending`, `running`, `success`, `failed`, `canceled` or `skipped`.
    pub state: &'static str,
    /// The branch or tag.
    pub git_ref: Option<String>,
    /// The check's name on the commit.
    pub name: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
}

/// What we ask GitLab to send to our webhook URL.
pub struct HookSettings {
    pub url: String,
    /// Sent back in `X-Gitlab-Token`.
    pub token: SecretString,
    pub push_events: bool,
    pub tag_push_events: bool,
    pub merge_requests_events: bool,
    pub enable_ssl_verification: bool,
}

/// Time and ids, so tests can control both.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
