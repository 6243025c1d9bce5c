//! Repository sync: fetch every project page (side by side when GitLab gives the total) and
//! bring the stored repositories in line: upsert changed ones, remove vanished ones.

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use secrecy::SecretString;

use super::Services;
use crate::domain::gitlab::GitLabProject;
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::domain::integration::{IntegrationRecord, Repository};
use crate::ports::{GitLabApi, GitLabError, StoreError};

/// GitLab's largest page.
pub const PER_PAGE: u32 = 100;

/// How many page requests may be in flight at once. GitLab.com allows 2,000 project listings
/// per 10 minutes per user, so a handful in parallel stays far below it.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Why a sync stopped. Nothing was written when it did.
///
/// # Errors
/// - `GitLab`: a page could not be read (the token refused, GitLab down or rate limiting).
/// - `Store`: the repositories could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    GitLab(#[from] GitLabError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a sync changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncSummary {
    pub fetched: usize,
    pub written: usize,
    pub removed: usize,
}

/// Every project the token reaches. With `x-total-pages` the remaining pages are fetched
/// `concurrency` at a time; without it (over 10,000 projects) `x-next-page` is followed.
pub async fn fetch_all_projects(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    concurrency: usize,
) -> Result<Vec<GitLabProject>, GitLabError> {
    let first = gitlab.projects_page(host, token, 1, PER_PAGE).await?;
    let mut projects = first.projects;
    let mut next = first.next_page;
    if let (Some(total), Some(_)) = (first.total_pages, first.next_page) {
        let pages: Vec<_> = stream::iter(2..=total)
            .map(|page| gitlab.projects_page(host, token, page, PER_PAGE))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        // Projects added while we read may have grown the listing past the total we were told.
        next = pages.last().and_then(|p| p.next_page).filter(|n| *n > total);
        for page in pages {
            projects.extend(page.projects);
        }
    }
    while let Some(page_number) = next {
        let page = gitlab.projects_page(host, token, page_number, PER_PAGE).await?;
        projects.extend(page.projects);
        next = page.next_page.filter(|n| *n > page_number);
    }
    Ok(projects)
}

/// Syncs one installation's repositories. Nothing is written unless every page was read, so
/// a failure half-way removes nothing.
pub async fn sync_repositories(
    services: &Services,
    integration: &IntegrationRecord,
    installation_id: &str,
    token: &SecretString,
) -> Result<SyncSummary, SyncError> {
    let integration_id = &integration.id;
    let now = services.clock.now();
    let projects = fetch_all_projects(
        services.gitlab.as_ref(),
        &integration.host_url,
        token,
        services.config.sync_concurrency,
    )
    .await?;
    let existing: HashMap<ProjectId, Repository> = services
        .repositories
        .list_repositories(integration_id)
        .await?
        .into_iter()
        .map(|r| (r.external_id, r))
        .collect();

    let mut seen = HashSet::new();
    let mut upserts = Vec::new();
    for project in &projects {
        // Offset pages can repeat a project when the listing shifts; keep the first.
        if !seen.insert(project.id) {
            continue;
        }
        let mut fresh = project.to_repository(integration_id, installation_id, now);
        match existing.get(&fresh.external_id) {
            Some(old) => {
                fresh.created_at = old.created_at;
                fresh.updated_at = old.updated_at;
                if &fresh != old {
                    fresh.updated_at = now;
                    upserts.push(fresh);
                }
            }
            None => upserts.push(fresh),
        }
    }
    let removals: Vec<Repository> = existing
        .into_values()
        .filter(|r| !seen.contains(&r.external_id))
        .collect();
    services
        .repositories
        .write_repositories(integration_id, &upserts, &removals)
        .await?;
    Ok(SyncSummary {
        fetched: seen.len(),
        written: upserts.len(),
        removed: removals.len(),
    })
}
