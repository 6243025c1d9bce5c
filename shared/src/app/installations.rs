//! `list-installations` and `sync-installations`: the GitLab accounts of an integration, and a
//! fresh sync of their repositories.

use crate::app::credentials::{CredentialsError, access_token};
use crate::app::sync::jobs::{SYNC_WAIT, SyncJobError, sync_and_wait};
use crate::app::{LookupError, Missing, Services};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{Installation, IntegrationStatus};
use crate::domain::sync::{SyncFailureKind, SyncRunState};
use crate::ports::StoreError;

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
/// - `SyncFailed`: the pass stopped for a reason of ours (credentials, storage); retry later.
/// - `Store`, `Job`: storage failed, or the job could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum SyncInstallationsError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("the integration is not active")]
    Inactive,
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("GitLab refused the integration's token: {0}")]
    ReconnectRequired(String),
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(String),
    #[error("the sync could not run: {0}")]
    SyncFailed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] SyncJobError),
}

/// Syncs the integration's repositories (one pass covers its installation) and returns every
/// installation. Joins a pass already running; waits up to [`SYNC_WAIT`] for it, and answers
/// its failure if it fails by then — a longer pass goes on in the background.
pub async fn sync_installations(
    services: &Services,
    id: &IntegrationId,
    installation_id: Option<&str>,
) -> Result<Vec<Installation>, SyncInstallationsError> {
    let record = services.integration(id).await?;
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
    // The token must work before a pass is worth starting (an OAuth one may refresh here).
    access_token(services, &record).await?;
    if let Some(pass) = sync_and_wait(services, &record.id, SYNC_WAIT).await?
        && let (SyncRunState::Failed, Some(failure)) = (pass.state, pass.error)
    {
        return Err(match failure.kind {
            SyncFailureKind::ReconnectRequired => SyncInstallationsError::ReconnectRequired(failure.message),
            SyncFailureKind::GitLabUnavailable => SyncInstallationsError::GitLabUnavailable(failure.message),
            SyncFailureKind::Internal => SyncInstallationsError::SyncFailed(failure.message),
        });
    }
    Ok(installations)
}
