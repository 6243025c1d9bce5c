//! Repository sync: read every project (`project_walk`) and bring the stored repositories in
//! line: upsert changed ones, remove vanished ones.

use std::collections::{HashMap, HashSet};

use secrecy::SecretString;

use super::Services;
pub use super::project_walk::{DEFAULT_CONCURRENCY, fetch_all_projects};
use crate::domain::ids::ProjectId;
use crate::domain::integration::{IntegrationRecord, Repository};
use crate::ports::{GitLabError, StoreError};

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
