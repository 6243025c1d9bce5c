//! `list-installations` and `sync-installations`: the GitLab accounts of an integration, and a
//! fresh sync of their repositories.

use super::credentials::{CredentialsError, access_token};
use super::sync::{SyncError, sync_repositories};
use super::{LookupError, Missing, Services};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{Installation, IntegrationStatus};
use crate::ports::{GitLabError, StoreError};

/// The integration's installations.
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn list_installations(services: &Services, id: &IntegrationId) -> Result<Vec<Installation>, LookupError> {
    let record = services.integration(id).await?;
    Ok(services.integrations.list_installations(&record.id).await?)
}

/// Why a sync did not run or did not finish. A sync that stops writes nothing.
///
/// # Errors
/// - `Lookup`: the integration or the named installation does not exist, or storage failed.
/// - `Inactive`: the integration is not active; its credentials must be fixed first.
/// - `Credentials`: the integration's token cannot be used.
/// - `ReconnectRequired`: GitLab refused the token during the sync; the integration is now
///   marked `error` and must be given a new token or authorized again.
/// - `GitLabUnavailable`: GitLab could not be reached or refused a page; retry later.
/// - `Store`: storage failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncInstallationsError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the integration is not active")]
    Inactive,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("GitLab refused the integration's token: {0}")]
    ReconnectRequired(GitLabError),
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Syncs the repositories of one installation (`installation_id`) or of all, and returns every
/// installation of the integration.
pub async fn sync_installations(
    services: &Services,
    id: &IntegrationId,
    installation_id: Option<&str>,
) -> Result<Vec<Installation>, SyncInstallationsError> {
    let mut record = services.integration(id).await?;
    if record.status != IntegrationStatus::Active {
        return Err(SyncInstallationsError::Inactive);
    }
    let installations = services.integrations.list_installations(&record.id).await?;
    let targets: Vec<_> = match installation_id {
        Some(wanted) => installations.iter().filter(|i| i.id == wanted).collect(),
        None => installations.iter().collect(),
    };
    if targets.is_empty() {
        return Err(LookupError::Missing(Missing::Installation).into());
    }
    let token = access_token(services, &record).await?;
    for installation in targets {
        match sync_repositories(services, &record, &installation.id, &token).await {
            Ok(summary) => {
                tracing::info!(integration_id = %record.id, fetched = summary.fetched, written = summary.written, removed = summary.removed, "repositories synced")
            }
            Err(SyncError::Store(err)) => return Err(err.into()),
            Err(SyncError::GitLab(err @ GitLabError::Unauthorized(_))) => {
                // Read again: fetching the token may have refreshed and rewritten the record.
                record = services.integration(&record.id).await?;
                record.status = IntegrationStatus::Error;
                record.updated_at = services.clock.now();
                services.integrations.update_integration(&record).await?;
                return Err(SyncInstallationsError::ReconnectRequired(err));
            }
            Err(SyncError::GitLab(err)) => return Err(SyncInstallationsError::GitLabUnavailable(err)),
        }
    }
    Ok(installations)
}
