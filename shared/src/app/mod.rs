//! The use cases: what the service does, as plain async functions over the ports, free of HTTP.
//!
//! Each use case is named after its endpoint (`check-gitlab-token` → [`tokens::check_gitlab_token`])
//! and returns its own error enum, whose variants say what a caller can do about each failure;
//! each HTTP handler maps its enum to the error envelope once.

pub mod build_triggers;
pub mod claim_expiry;
pub mod commit_status;
pub mod connect;
pub mod credentials;
pub mod cursors;
pub mod deadline;
pub mod deliveries;
pub mod handoff;
pub mod hooks;
pub mod installations;
pub mod integration_settings;
pub mod integrations;
pub mod master_key;
pub mod merge_request_notes;
pub mod merged_index;
pub mod oauth;
pub mod recent_integrations;
pub mod repositories;
pub mod resume;
pub mod sync;
pub mod token_expiry;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::ids::{IntegrationId, RepositoryId};
use crate::domain::integration::{IntegrationRecord, Repository};
use crate::ports::{
    Clock, GitLabApi, HookStore, IntegrationStore, OAuthStateStore, RepositoryStore, SecretVault, StoreError,
    SyncQueue, SyncStore, TriggerHandoff, TriggerStore, WebhookStore,
};

/// The ports and settings the use cases run on, built once per container.
#[derive(Clone)]
pub struct Services {
    pub integrations: Arc<dyn IntegrationStore>,
    pub repositories: Arc<dyn RepositoryStore>,
    pub hooks: Arc<dyn HookStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub oauth_states: Arc<dyn OAuthStateStore>,
    pub triggers: Arc<dyn TriggerStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub sync_queue: Arc<dyn SyncQueue>,
    /// Where a new trigger goes for its pending status and its event (off the request path).
    pub handoff: Arc<dyn TriggerHandoff>,
    pub vault: Arc<dyn SecretVault>,
    pub gitlab: Arc<dyn GitLabApi>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// Integration records the webhook path's member gate read lately.
    pub recent_integrations: recent_integrations::RecentIntegrations,
}

/// Something a use case looked up by id does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("integration not found")]
    Integration,
    #[error("repository not found")]
    Repository,
    #[error("installation not found")]
    Installation,
}

/// A lookup that fails with [`Missing`] or a storage error.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Missing(#[from] Missing),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Services {
    /// The integration, or [`Missing::Integration`] (also once it is deleted).
    pub async fn integration(&self, id: &IntegrationId) -> Result<IntegrationRecord, LookupError> {
        match self.integrations.get_integration(id).await? {
            Some(record) if record.deleted_at.is_none() => Ok(record),
            // Deleted: gone for every caller while its items are removed in the background.
            _ => Err(LookupError::Missing(Missing::Integration)),
        }
    }

    /// Applies `change` to the stored integration and writes it back conditioned on the version
    /// it read: when another write came first (a refresh, a status change, a setting), it reads
    /// again and reapplies `change` instead of undoing that write. `None` if the integration is
    /// gone; what it wrote otherwise.
    pub async fn modify_integration(
        &self,
        id: &IntegrationId,
        change: impl Fn(&mut IntegrationRecord),
    ) -> Result<Option<IntegrationRecord>, StoreError> {
        // Writers of one record are few (a request, a refresher, a sync); losing this many races in
        // a row means something is wrong.
        const TRIES: usize = 8;
        for _ in 0..TRIES {
            let Some(mut record) = self.integrations.get_integration(id).await? else {
                return Ok(None);
            };
            change(&mut record);
            match self.integrations.update_integration(&record).await {
                Ok(()) => {
                    record.record_version += 1;
                    return Ok(Some(record));
                }
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The id of the integration's installation (the GitLab user its credentials act as), which
    /// its repositories belong to; empty before one exists.
    pub async fn installation_id(&self, id: &IntegrationId) -> Result<String, StoreError> {
        Ok(self
            .integrations
            .list_installations(id)
            .await?
            .into_iter()
            .map(|i| i.id)
            .next()
            .unwrap_or_default())
    }

    /// The repository and its integration, or what is missing.
    pub async fn repository(&self, id: &RepositoryId) -> Result<(Repository, IntegrationRecord), LookupError> {
        let repository = self.repositories.get_repository(id).await?.ok_or(Missing::Repository)?;
        let integration = self.integration(&repository.integration_id).await?;
        Ok((repository, integration))
    }
}
