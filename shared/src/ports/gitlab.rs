//! The GitLab REST API, as much of it as we use, and what it answers.

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use crate::domain::gitlab::{GitLabGroup, GitLabProject, GitLabUser, ProjectHook, TokenInfo};
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::domain::oauth::{OAuthClient, OAuthTokens};

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
    /// The request did not get an answer: `"{kind}: {error chain}"` (the chain is for logs).
    #[error("GitLab is unreachable: {0}")]
    Unreachable(String),
    #[error("GitLab answered HTTP {0}")]
    Status(u16),
    /// A 400 whose message names the pipeline a commit status was posted to.
    #[error("GitLab refused the pipeline named")]
    PipelineRefused,
    #[error("GitLab's answer could not be read: {0}")]
    Decode(String),
    /// The OAuth token endpoint refused (`invalid_grant`, `invalid_client`, …).
    #[error("GitLab refused the OAuth request: {error}")]
    OAuthRefused { error: String },
}

impl GitLabError {
    /// A failure that passes: GitLab overloaded or unreachable, not a refusal. Asking again
    /// later may succeed.
    pub fn is_passing(&self) -> bool {
        match self {
            GitLabError::RateLimited { .. } | GitLabError::Unreachable(_) => true,
            GitLabError::Status(code) => (500..600).contains(code),
            _ => false,
        }
    }

    /// What a caller may be told: the kind of failure, never the connection's error chain
    /// (addresses, ports, TLS details), which stays in the logs.
    pub fn short_reason(&self) -> String {
        match self {
            // The adapter writes "{kind}: {chain}"; only the kind is ours to show.
            GitLabError::Unreachable(text) => {
                let kind = text.split(':').next().unwrap_or_default().trim();
                format!("GitLab is unreachable: {kind}")
            }
            GitLabError::Decode(_) => "GitLab's answer could not be read".into(),
            other => other.to_string(),
        }
    }
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
    /// `GET /{projects|groups}/:id/hooks` (every page). Group hooks need Premium and Owner on
    /// the group.
    async fn hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
    ) -> Result<Vec<ProjectHook>, GitLabError>;
    /// `GET /{projects|groups}/:id/hooks/:hook_id`: one hook, with its `alert_status`.
    async fn hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
    ) -> Result<ProjectHook, GitLabError>;
    /// `POST /{projects|groups}/:id/hooks`, or `PUT …/hooks/:hook_id` when `hook_id` is given.
    async fn save_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError>;
    /// `POST /{projects|groups}/:id/hooks/:hook_id/test/:trigger`: a test delivery, which
    /// re-enables a disabled hook when the hook answers 2xx (GitLab then answers 201, else 422).
    async fn test_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
        trigger: &str,
    ) -> Result<(), GitLabError>;
    /// `DELETE /{projects|groups}/:id/hooks/:hook_id`.
    async fn delete_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
    ) -> Result<(), GitLabError>;
    /// `GET /groups/:id`.
    async fn group(&self, host: &HostUrl, token: &SecretString, group_id: u64) -> Result<GitLabGroup, GitLabError>;
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
    /// `GET /projects/:id/members/all/:user_id`: the user's access level to the project,
    /// inherited from groups included; `None` when the user is no member.
    async fn member_access(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        user_id: u64,
    ) -> Result<Option<u32>, GitLabError>;
    /// `POST /projects/:id/merge_requests/:iid/notes`: the new note's id.
    async fn create_merge_request_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        body: &str,
    ) -> Result<u64, GitLabError>;
    /// `PUT /projects/:id/merge_requests/:iid/notes/:note_id`; `NotFound` once the note is deleted.
    async fn edit_merge_request_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        note_id: u64,
        body: &str,
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
    /// The pipeline to attach to (a merge request's head pipeline), if any.
    pub pipeline_id: Option<u64>,
}

/// Whose hooks a call is about: a project's or a group's. GitLab's two hook APIs take the same
/// fields and answer the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookOwner {
    Project(ProjectId),
    Group(u64),
}

impl HookOwner {
    /// The API path of the owner's hooks.
    pub fn hooks_path(self) -> String {
        match self {
            HookOwner::Project(id) => format!("api/v4/projects/{id}/hooks"),
            HookOwner::Group(id) => format!("api/v4/groups/{id}/hooks"),
        }
    }
}

/// What we ask GitLab to send to our webhook URL.
pub struct HookSettings {
    pub url: String,
    /// Sent back in `X-Gitlab-Token`.
    pub token: SecretString,
    pub push_events: bool,
    pub tag_push_events: bool,
    pub merge_requests_events: bool,
    /// Comments, which carry `/oore build`.
    pub note_events: bool,
    pub enable_ssl_verification: bool,
    /// Project and group access token expiry events (GitLab versions without them ignore it).
    pub resource_access_token_events: bool,
}
