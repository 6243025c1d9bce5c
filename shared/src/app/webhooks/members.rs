//! The member gate: a fork's merge request and an `/oore build` comment build only for a GitLab
//! user with Developer access or more to the target project, asked of GitLab once per delivery
//! (the integration's record read at most once a minute).

use crate::app::Services;
use crate::app::credentials::with_token;
use crate::app::webhooks::{Verified, WebhookError};
use crate::domain::ids::ProjectId;
use crate::domain::merge_request_events::DEVELOPER_ACCESS;
use crate::domain::webhook::MemberGate;
use crate::ports::GitLabError;

/// Whether the gate's user may build, and the log's reason when not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Member,
    NotMember(String),
}

/// Asks GitLab for the gate's user's access to `project`. A command written by the
/// integration's own GitLab user is never obeyed: our own notes must not start builds.
///
/// # Errors
/// `InvalidToken` when the integration is gone; `GitLabUnavailable` when GitLab failed in
/// passing (the delivery is answered 503, so GitLab sends it again).
pub(super) async fn member_verdict(
    services: &Services,
    verified: &Verified,
    project: Option<ProjectId>,
    gate: &MemberGate,
) -> Result<Verdict, WebhookError> {
    let (Some(project), Some(user_id)) = (project, gate.user_id) else {
        return Ok(Verdict::NotMember(gate.otherwise.clone()));
    };
    let integration_id = &verified.key.integration_id;
    let integration = services
        .recent_integrations
        .live(services.integrations.as_ref(), integration_id)
        .await?
        .ok_or(WebhookError::InvalidToken)?;
    if gate.retry && integration.gitlab_user_id == Some(user_id) {
        return Ok(Verdict::NotMember(
            "the comment was written by the integration's own GitLab user".into(),
        ));
    }
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let answer = with_token(services, &integration, |token| async move {
        gitlab.member_access(host, &token, project, user_id).await
    })
    .await?;
    match answer {
        Ok(Some(level)) if level >= DEVELOPER_ACCESS => Ok(Verdict::Member),
        Ok(_) => Ok(Verdict::NotMember(gate.otherwise.clone())),
        Err(GitLabError::Forbidden) => Ok(Verdict::NotMember(format!(
            "{} (the integration may not read the project's members)",
            gate.otherwise
        ))),
        Err(err) if err.is_passing() => {
            tracing::warn!(%integration_id, error = %err, "membership lookup for a webhook failed");
            Err(WebhookError::GitLabUnavailable(err))
        }
        Err(err) => {
            tracing::warn!(%integration_id, error = %err, "GitLab refused the membership lookup");
            Ok(Verdict::NotMember(format!(
                "{} ({})",
                gate.otherwise,
                err.short_reason()
            )))
        }
    }
}
