//! `list-repositories`, `list-source-repositories` and `repository-avatar`.

use url::Url;

use super::credentials::{CredentialsError, access_token};
use super::{LookupError, Services};
use crate::domain::host::HostUrl;
use crate::domain::ids::{IntegrationId, RepositoryId};
use crate::domain::integration::Repository;
use crate::ports::{Avatar, GitLabError, StoreError};

/// Largest avatar we pass through; GitLab itself caps uploads at 200 KiB.
pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;

/// Which page of repositories to list: the daemon's search, sorted by lower-case full name.
#[derive(Debug, Clone)]
pub struct RepositoryQuery {
    pub q: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// A page of repositories and how many matched in all.
pub struct RepositoryPage<T> {
    pub repositories: Vec<T>,
    pub total: usize,
}

/// Filters by `q`, sorts by full name and cuts the page.
fn select(mut repos: Vec<Repository>, query: &RepositoryQuery) -> RepositoryPage<Repository> {
    if let Some(q) = &query.q {
        repos.retain(|r| r.matches(q));
    }
    repos.sort_by(|a, b| {
        a.full_name
            .to_lowercase()
            .cmp(&b.full_name.to_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    });
    let total = repos.len();
    RepositoryPage {
        repositories: repos.into_iter().skip(query.offset).take(query.limit).collect(),
        total,
    }
}

/// One page of an integration's repositories.
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn list_repositories(
    services: &Services,
    id: &IntegrationId,
    query: &RepositoryQuery,
) -> Result<RepositoryPage<Repository>, LookupError> {
    let record = services.integration(id).await?;
    Ok(select(
        services.repositories.list_repositories(&record.id).await?,
        query,
    ))
}

/// One page of the repositories of every integration, each with its integration's host.
///
/// # Errors
/// A storage failure.
pub async fn list_source_repositories(
    services: &Services,
    query: &RepositoryQuery,
) -> Result<RepositoryPage<(Repository, Option<HostUrl>)>, StoreError> {
    let integrations = services.integrations.list_integrations().await?;
    let lists = futures::future::try_join_all(
        integrations
            .iter()
            .map(|i| services.repositories.list_repositories(&i.id)),
    )
    .await?;
    let page = select(lists.into_iter().flatten().collect(), query);
    let repositories = page
        .repositories
        .into_iter()
        .map(|r| {
            let host = integrations
                .iter()
                .find(|i| i.id == r.integration_id)
                .map(|i| i.host_url.clone());
            (r, host)
        })
        .collect();
    Ok(RepositoryPage {
        repositories,
        total: page.total,
    })
}

/// Why an avatar cannot be served.
///
/// # Errors
/// - `Lookup`: the repository or its integration does not exist, or storage failed.
/// - `NoAvatar`: the repository has none (or GitLab has none at its URL).
/// - `ForeignHost`: the avatar is not on the integration's own GitLab host, so it is not fetched
///   with the integration's token.
/// - `Credentials`: the integration's token cannot be used.
/// - `GitLabUnavailable`: GitLab could not be reached; retry later.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("this repository has no avatar")]
    NoAvatar,
    #[error("the avatar is not served by the integration's GitLab host")]
    ForeignHost,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
}

/// Fetches a (possibly private) project avatar with the integration's token. Only URLs on the
/// integration's own GitLab host are fetched, so the token never travels elsewhere.
pub async fn repository_avatar(services: &Services, id: &RepositoryId) -> Result<Avatar, AvatarError> {
    let (repo, integration) = services.repository(id).await?;
    let url = repo
        .avatar_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .ok_or(AvatarError::NoAvatar)?;
    if !integration.host_url.same_origin(&url) {
        return Err(AvatarError::ForeignHost);
    }
    let token = access_token(services, &integration).await?;
    match services.gitlab.avatar(&url, Some(&token), MAX_AVATAR_BYTES).await {
        Ok(image) => Ok(image),
        Err(GitLabError::NotFound) => Err(AvatarError::NoAvatar),
        Err(err) => Err(AvatarError::GitLabUnavailable(err)),
    }
}
