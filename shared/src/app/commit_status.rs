//! GitLab commit statuses for triggers: `pending` once handed off, then every reported state.
//! Reporting is best effort: GitLab being down or rate limiting never holds a build up.

use serde::Serialize;

use crate::app::Services;
use crate::app::credentials::with_token;
use crate::domain::integration::{AuthMode, IntegrationRecord};
use crate::domain::trigger::Trigger;
use crate::ports::{CommitStatus, GitLabError};

/// Whether statuses can be shown at GitLab for an integration, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReporting {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Commit statuses need the `api` scope: OAuth applications are granted it, a personal token
/// must have it.
pub fn status_reporting(integration: &IntegrationRecord) -> StatusReporting {
    let lacks_api = integration.auth_mode == AuthMode::PersonalToken
        && integration
            .gitlab_scopes
            .as_ref()
            .is_some_and(|scopes| !scopes.iter().any(|s| s == "api"));
    if lacks_api {
        StatusReporting {
            available: false,
            reason: Some(
                "the token lacks the api scope, which GitLab requires to show build statuses on commits; \
                 replace it with a token that has api"
                    .into(),
            ),
        }
    } else {
        StatusReporting {
            available: true,
            reason: None,
        }
    }
}

/// Posts `state` for the trigger's commit; `true` once GitLab shows it. GitLab's refusal to
/// move a status to the state it already has counts as shown (a hand-off retried by the stream).
pub async fn report_commit_status(services: &Services, trigger: &Trigger, state: &'static str) -> bool {
    let integration = match services.integrations.get_integration(&trigger.integration_id).await {
        Ok(Some(integration)) => integration,
        Ok(None) => return false,
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "commit status not sent: the integration could not be read");
            return false;
        }
    };
    if !status_reporting(&integration).available {
        return false;
    }
    let status = CommitStatus {
        state,
        git_ref: trigger.status_ref().map(str::to_string),
        name: services.config.status_name.clone(),
        target_url: trigger.target_url.clone(),
        description: trigger.description.clone(),
        pipeline_id: trigger.merge_request.as_ref().and_then(|mr| mr.pipeline_id),
    };
    // The GitLab client already sends a call again while GitLab fails in passing: one call here.
    let (gitlab, host, status) = (services.gitlab.as_ref(), &integration.host_url, &status);
    let sent = match with_token(services, &integration, |token| async move {
        gitlab
            .post_commit_status(host, &token, trigger.project_id, &trigger.sha, status)
            .await
    })
    .await
    {
        Ok(sent) => sent,
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "commit status not sent: no usable GitLab token");
            return false;
        }
    };
    match sent {
        Ok(()) | Err(GitLabError::Status(400)) => true,
        Err(err @ (GitLabError::Unauthorized(_) | GitLabError::Forbidden | GitLabError::NotFound)) => {
            tracing::warn!(trigger_id = %trigger.id, state, error = %err, "GitLab refused the commit status");
            false
        }
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, state, error = %err, "commit status not sent after GitLab's tries");
            false
        }
    }
}
