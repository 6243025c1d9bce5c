//! `list-repositories`, `list-source-repositories` and `repository-avatar`.

use url::Url;

use crate::app::credentials::{CredentialsError, with_token};
use crate::app::merged_index::merged_page;
use crate::app::{LookupError, Services};
use crate::domain::hooks::HookRecord;
use crate::domain::host::HostUrl;
use std::collections::HashMap;

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::integration::Repository;
use crate::domain::name_index::{IndexEntry, sort_entries};
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

/// The entries matching `query.q`, then the page of them, and how many matched.
fn page_of(entries: Vec<IndexEntry>, query: &RepositoryQuery) -> (Vec<IndexEntry>, usize) {
    let matching: Vec<IndexEntry> = match query.q.as_deref().map(str::to_lowercase) {
        Some(q) => entries.into_iter().filter(|e| e.matches(&q)).collect(),
        None => entries,
    };
    let total = matching.len();
    (
        matching.into_iter().skip(query.offset).take(query.limit).collect(),
        total,
    )
}

/// An integration's index entries in listing order: its name index, or — before a sync pass
/// wrote one — made from the stored repositories.
async fn all_entries(services: &Services, id: &IntegrationId) -> Result<Vec<IndexEntry>, StoreError> {
    if let Some(index) = services.repositories.read_name_index(id, 0, None).await? {
        return Ok(index.entries);
    }
    let mut entries: Vec<IndexEntry> = services
        .repositories
        .list_repositories(id)
        .await?
        .iter()
        .map(IndexEntry::of)
        .collect();
    sort_entries(id, &mut entries);
    Ok(entries)
}

/// The stored repositories of `entries` (one integration's), in the entries' order.
async fn repositories_of(
    services: &Services,
    id: &IntegrationId,
    entries: &[IndexEntry],
) -> Result<Vec<Repository>, StoreError> {
    let projects: Vec<ProjectId> = entries.iter().map(IndexEntry::project).collect();
    let mut found: HashMap<ProjectId, Repository> = services
        .repositories
        .get_repositories(id, &projects)
        .await?
        .into_iter()
        .map(|r| (r.external_id, r))
        .collect();
    Ok(projects.iter().filter_map(|p| found.remove(p)).collect())
}

/// A listed repository with the record of the hook we registered on it, if any.
pub struct ListedRepository {
    pub repository: Repository,
    pub webhook: Option<HookRecord>,
}

/// One page of an integration's repositories. Without a search, only the index chunks the
/// page falls in are read; a search reads the index; either way only the page's repositories
/// and their hook records.
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn list_repositories(
    services: &Services,
    id: &IntegrationId,
    query: &RepositoryQuery,
) -> Result<RepositoryPage<ListedRepository>, LookupError> {
    let record = services.integration(id).await?;
    let indexed = match query.q {
        None => {
            services
                .repositories
                .read_name_index(&record.id, query.offset, Some(query.limit))
                .await?
        }
        Some(_) => None,
    };
    let (entries, total) = match indexed {
        Some(slice) => (slice.entries, slice.total),
        None => page_of(all_entries(services, &record.id).await?, query),
    };
    let projects: Vec<ProjectId> = entries.iter().map(IndexEntry::project).collect();
    let (repositories, hooks) = futures::try_join!(
        repositories_of(services, &record.id, &entries),
        services.hooks.get_hooks(&record.id, &projects)
    )?;
    let mut hooks: HashMap<ProjectId, HookRecord> = hooks.into_iter().map(|h| (h.project_id, h)).collect();
    Ok(RepositoryPage {
        repositories: repositories
            .into_iter()
            .map(|repository| ListedRepository {
                webhook: hooks.remove(&repository.external_id),
                repository,
            })
            .collect(),
        total,
    })
}

/// One page of the repositories of every integration, each with its integration's host: the
/// integrations' indexes merged in listing order. Without a search, only the index chunks
/// around the page are read (see `merged_index`); a search reads the indexes.
///
/// # Errors
/// A storage failure.
pub async fn list_source_repositories(
    services: &Services,
    query: &RepositoryQuery,
) -> Result<RepositoryPage<(Repository, Option<HostUrl>)>, StoreError> {
    let integrations: Vec<_> = services
        .integrations
        .list_integrations()
        .await?
        .into_iter()
        .filter(|i| i.deleted_at.is_none())
        .collect();
    let ids: Vec<IntegrationId> = integrations.iter().map(|i| i.id.clone()).collect();
    let bounded = match query.q {
        None => merged_page(services, &ids, query.offset, query.limit).await?,
        Some(_) => None,
    };
    let (page, total) = match bounded {
        Some(found) => found,
        None => whole_merge(services, &ids, query).await?,
    };
    let mut by_integration: HashMap<usize, Vec<IndexEntry>> = HashMap::new();
    for (n, entry) in &page {
        by_integration.entry(*n).or_default().push(entry.clone());
    }
    let mut fetched: HashMap<(usize, ProjectId), Repository> = HashMap::new();
    for (n, entries) in by_integration {
        for repo in repositories_of(services, &integrations[n].id, &entries).await? {
            fetched.insert((n, repo.external_id), repo);
        }
    }
    let repositories = page
        .iter()
        .filter_map(|(n, e)| {
            fetched
                .remove(&(*n, e.project()))
                .map(|r| (r, Some(integrations[*n].host_url.clone())))
        })
        .collect();
    Ok(RepositoryPage { repositories, total })
}

/// Every integration's index read whole and merged, filtered by the search, then paged: for a
/// search, and for indexes that keep no chunk bounds.
async fn whole_merge(
    services: &Services,
    ids: &[IntegrationId],
    query: &RepositoryQuery,
) -> Result<(Vec<(usize, IndexEntry)>, usize), StoreError> {
    let indexes = futures::future::try_join_all(ids.iter().map(|id| all_entries(services, id))).await?;
    let mut merged: Vec<(usize, IndexEntry)> = indexes
        .into_iter()
        .enumerate()
        .flat_map(|(n, entries)| entries.into_iter().map(move |e| (n, e)))
        .collect();
    merged.sort_by(|(na, a), (nb, b)| {
        a.0.cmp(&b.0).then_with(|| {
            RepositoryId::derive(&ids[*na], a.project()).cmp(&RepositoryId::derive(&ids[*nb], b.project()))
        })
    });
    let q = query.q.as_deref().map(str::to_lowercase);
    let matching: Vec<(usize, IndexEntry)> = merged
        .into_iter()
        .filter(|(_, e)| q.as_deref().is_none_or(|q| e.matches(q)))
        .collect();
    let total = matching.len();
    let page: Vec<(usize, IndexEntry)> = matching.into_iter().skip(query.offset).take(query.limit).collect();
    Ok((page, total))
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
    let (gitlab, url) = (services.gitlab.as_ref(), &url);
    let answer = with_token(services, &integration, |token| async move {
        gitlab.avatar(url, Some(&token), MAX_AVATAR_BYTES).await
    })
    .await?;
    match answer {
        Ok(image) => Ok(image),
        Err(GitLabError::NotFound) => Err(AvatarError::NoAvatar),
        Err(err) => Err(AvatarError::GitLabUnavailable(err)),
    }
}
