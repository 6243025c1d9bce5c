//! Why a job's share of a sync pass stopped: a failure recorded on the pass, a lease lost to
//! another job, or a backend that failed.

use crate::app::credentials::CredentialsError;
use crate::domain::sync::{SyncFailure, SyncFailureKind};
use crate::ports::{GitLabError, QueueError, StoreError};

pub(crate) enum PassError {
    Failed(SyncFailure),
    LeaseLost,
    Store(StoreError),
    Queue(QueueError),
}

impl From<StoreError> for PassError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => PassError::LeaseLost,
            other => PassError::Store(other),
        }
    }
}

impl From<GitLabError> for PassError {
    fn from(err: GitLabError) -> Self {
        let kind = match err {
            GitLabError::Unauthorized(_) => SyncFailureKind::ReconnectRequired,
            _ => SyncFailureKind::GitLabUnavailable,
        };
        tracing::warn!(error = %err, "a sync pass could not read GitLab");
        // The message is shown in the integration's detail: a short reason, not the chain.
        PassError::Failed(SyncFailure {
            kind,
            message: err.short_reason(),
        })
    }
}

impl From<CredentialsError> for PassError {
    fn from(err: CredentialsError) -> Self {
        let kind = match err {
            CredentialsError::ReconnectRequired => SyncFailureKind::ReconnectRequired,
            CredentialsError::RefreshUnavailable(_) => SyncFailureKind::GitLabUnavailable,
            _ => SyncFailureKind::Internal,
        };
        let message = match &err {
            CredentialsError::RefreshUnavailable(gitlab) => {
                tracing::warn!(error = %gitlab, "a sync pass could not refresh the GitLab token");
                format!("the token refresh could not reach GitLab: {}", gitlab.short_reason())
            }
            other => other.to_string(),
        };
        PassError::Failed(SyncFailure { kind, message })
    }
}
