//! `list-integrations`, `get-integration` and `delete-integration`.

use std::cmp::Ordering;

use crate::app::claim_expiry::{has_active_builds, revoke_active_credentials};
use crate::app::commit_status::{StatusReporting, status_reporting};
use crate::app::credentials::{access_token, oauth_client, read_credentials};
use crate::app::hooks::groups::delete_registered_group_hooks;
use crate::app::{LookupError, Services};
use crate::domain::credential::CredentialStatus;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};
use crate::domain::sync::SyncRecord;
use crate::ports::{GitLabError, HookOwner, StoreError, SyncJob, VaultError};

/// What integrations are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationSort {
    Name,
    Provider,
    Status,
    UpdatedAt,
}

/// Which page of integrations to list.
#[derive(Debug, Clone)]
pub struct IntegrationQuery {
    pub sort: IntegrationSort,
    pub descending: bool,
    pub limit: usize,
    pub offset: usize,
    /// `false` when the caller asked for another provider than GitLab: nothing matches.
    pub gitlab_provider: bool,
    /// Matched against the name and host (contains), status and auth mode (equal), lower case.
    pub q: Option<String>,
}

/// A page of integrations, with the totals of everything that matched.
pub struct IntegrationPage {
    pub integrations: Vec<IntegrationRecord>,
    pub total: usize,
    pub active_total: usize,
}

fn compare(sort: IntegrationSort, a: &IntegrationRecord, b: &IntegrationRecord) -> Ordering {
    let name = |r: &IntegrationRecord| r.display_name.clone().unwrap_or_default().to_lowercase();
    match sort {
        IntegrationSort::Provider => Ordering::Equal,
        IntegrationSort::Status => a.status.as_str().cmp(b.status.as_str()),
        IntegrationSort::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        IntegrationSort::Name => name(a).cmp(&name(b)),
    }
    .then_with(|| a.id.cmp(&b.id))
}

/// One page of the integrations matching `query`.
///
/// # Errors
/// A storage failure.
pub async fn list_integrations(services: &Services, query: &IntegrationQuery) -> Result<IntegrationPage, StoreError> {
    let mut all = if query.gitlab_provider {
        services
            .integrations
            .list_integrations()
            .await?
            .into_iter()
            .filter(|r| r.deleted_at.is_none())
            .collect()
    } else {
        Vec::new()
    };
    if let Some(q) = &query.q {
        all.retain(|r| {
            r.display_name.as_deref().unwrap_or_default().to_lowercase().contains(q)
                || r.host_url.as_str().to_lowercase().contains(q)
                || r.status.as_str() == q
                || r.auth_mode.as_str() == q
        });
    }
    all.sort_by(|a, b| {
        if query.descending {
            compare(query.sort, b, a)
        } else {
            compare(query.sort, a, b)
        }
    });
    let active_total = all.iter().filter(|r| r.status == IntegrationStatus::Active).count();
    let total = all.len();
    let integrations = all.into_iter().skip(query.offset).take(query.limit).collect();
    Ok(IntegrationPage {
        integrations,
        total,
        active_total,
    })
}

/// An integration with its counts and its latest delivery's time.
pub struct IntegrationDetail {
    pub integration: IntegrationRecord,
    pub installation_count: usize,
    pub repository_count: usize,
    pub last_webhook_at: Option<i64>,
    /// Whether builds can show their status on GitLab's commits.
    pub status_reporting: StatusReporting,
    /// The latest sync pass, if any ran.
    pub sync: Option<SyncRecord>,
    /// What the token is worth now, and when it expires.
    pub token_status: CredentialStatus,
    pub token_expires_at: Option<i64>,
}

/// The integration `id` in detail.
///
/// # Errors
/// The integration does not exist, or storage failed.
pub async fn get_integration(services: &Services, id: &IntegrationId) -> Result<IntegrationDetail, LookupError> {
    let integration = services.integration(id).await?;
    // Every read is of a few items, however many repositories the integration has.
    let (installations, sync, (latest, _)) = futures::try_join!(
        services.integrations.list_installations(&integration.id),
        services.syncs.get_sync(&integration.id),
        services.webhooks.list_deliveries(&integration.id, 1, None)
    )?;
    let repository_count = match &sync {
        Some(sync) => sync.shown_count() as usize,
        // The record of the last pass expired: the name index still knows how many there are.
        None => services
            .repositories
            .read_name_index(&integration.id, 0, Some(0))
            .await?
            .map_or(0, |index| index.total),
    };
    let (token_status, token_expires_at) = integration.token_status(services.clock.now());
    Ok(IntegrationDetail {
        token_status,
        token_expires_at,
        status_reporting: status_reporting(&integration),
        installation_count: installations.len(),
        repository_count,
        sync,
        last_webhook_at: latest.first().map(|d| d.received_at),
        integration,
    })
}

/// Why a delete did not finish. Repeating it finishes the job.
///
/// # Errors
/// - `Lookup`: the integration does not exist, or storage failed.
/// - `ActiveBuilds`: builds of it are claimed or running; they must finish (or their claims run
///   out) first.
/// - `Store`, `Vault`: a backend failed part-way; the integration is still listed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("builds of this integration are claimed or running")]
    ActiveBuilds,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Refuses while builds of the integration are claimed or running. Otherwise finishes GitLab's
/// side first (the hooks we registered deleted, then the OAuth tokens revoked), then removes
/// the credentials, then marks the
/// integration deleted and takes its webhook keys and queued builds: from that moment nothing
/// of it is listed and no delivery for it is accepted. The rest of its items (repositories,
/// deliveries, however many) are removed by a background job.
pub async fn delete_integration(services: &Services, id: &IntegrationId) -> Result<(), DeleteError> {
    let record = match services.integrations.get_integration(id).await? {
        Some(record) if record.deleted_at.is_none() => record,
        Some(deleted) => {
            // Deleted already: queue its items' removal again (in case that was lost), and say so.
            enqueue_purge(services, &deleted.id).await;
            return Err(LookupError::Missing(crate::app::Missing::Integration).into());
        }
        None => return Err(LookupError::Missing(crate::app::Missing::Integration).into()),
    };
    if has_active_builds(services, &record.id).await? {
        return Err(DeleteError::ActiveBuilds);
    }
    // Marked deleted first: from here on no claim is granted a clone credential for it (a claim
    // under way when the mark lands revokes its own), and every read sees it gone.
    let now = services.clock.now();
    services
        .modify_integration(&record.id, |stored| stored.deleted_at = Some(now))
        .await?;
    // Then, while its token still works: credentials of claims that slipped in beside the
    // check above, the hooks we registered, the OAuth tokens. The secret goes last.
    if let Err(err) = revoke_active_credentials(services, &record.id).await {
        tracing::warn!(integration_id = %record.id, error = %err, "the active builds could not be read; their clone credentials expire on their own");
    }
    delete_registered_hooks(services, &record).await;
    if record.auth_mode == AuthMode::OauthApp {
        revoke_oauth_tokens(services, &record).await;
    }
    services
        .vault
        .delete_secret(&services.config.credentials_secret_name(&record.id))
        .await?;
    services.integrations.retire_integration(&record.id).await?;
    enqueue_purge(services, &record.id).await;
    tracing::info!(integration_id = %record.id, "integration deleted");
    Ok(())
}

/// Queues the removal of a deleted integration's items. If it cannot be queued, nothing of the
/// integration shows meanwhile, and deleting it again queues it again.
async fn enqueue_purge(services: &Services, id: &IntegrationId) {
    let purge = SyncJob {
        integration_id: id.clone(),
        generation: 0,
        purge: true,
    };
    if let Err(err) = services.sync_queue.enqueue(&purge).await {
        tracing::error!(integration_id = %id, error = %err, "the removal of a deleted integration's items could not be queued");
    }
}

/// Deletes the project and group hooks we registered, by their recorded ids (never a hook we
/// did not make), while the token still works. A hook GitLab no longer has counts as deleted;
/// GitLab unreachable leaves the rest, and the log says so.
async fn delete_registered_hooks(services: &Services, record: &IntegrationRecord) {
    let hooks = match services.hooks.list_hooks(&record.id).await {
        Ok(hooks) => hooks,
        Err(err) => {
            tracing::warn!(integration_id = %record.id, error = %err, "the registered hooks could not be read; they stay at GitLab");
            Vec::new()
        }
    };
    let group_hooks = match services.hooks.group_hooks(&record.id).await {
        Ok(hooks) => hooks,
        Err(err) => {
            tracing::warn!(integration_id = %record.id, error = %err, "the registered group hooks could not be read; they stay at GitLab");
            Vec::new()
        }
    };
    if hooks.is_empty() && group_hooks.is_empty() {
        return;
    }
    let token = match access_token(services, record).await {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(integration_id = %record.id, error = %err, "no usable token to delete the registered hooks; they stay at GitLab");
            return;
        }
    };
    let registered = hooks.iter().filter_map(|h| h.hook_id.map(|id| (h.project_id, id)));
    for (project, hook_id) in registered {
        match services
            .gitlab
            .delete_hook(&record.host_url, &token, HookOwner::Project(project), hook_id)
            .await
        {
            Ok(()) | Err(GitLabError::NotFound) => {}
            Err(err) => {
                tracing::warn!(integration_id = %record.id, %project, hook_id, error = %err, "a registered hook could not be deleted at GitLab");
            }
        }
    }
    delete_registered_group_hooks(services, record, &group_hooks, &token).await;
}

/// Revokes the access and refresh tokens. GitLab being unreachable does not block the delete:
/// the tokens then stay valid until they expire, and the log says so.
async fn revoke_oauth_tokens(services: &Services, record: &IntegrationRecord) {
    let Ok(credentials) = read_credentials(services, &record.id, true).await else {
        return;
    };
    let Ok(client) = oauth_client(record, &credentials) else {
        return;
    };
    for token in [&credentials.access_token, &credentials.refresh_token]
        .into_iter()
        .flatten()
    {
        if let Err(err) = services.gitlab.revoke_token(&record.host_url, &client, token).await {
            tracing::warn!(integration_id = %record.id, error = %err, "could not revoke the integration's tokens at GitLab; they stay valid until they expire");
            return;
        }
    }
    tracing::info!(integration_id = %record.id, "OAuth tokens revoked at GitLab");
}
