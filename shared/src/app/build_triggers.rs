//! `list-build-triggers`, `get-build-trigger`, `claim-build-trigger` and
//! `report-build-status`: the queue build systems work from. A claim wins once, hands out a
//! short-lived deploy token for that repository only, and holds for the claim timeout unless a
//! report renews it; each report becomes a GitLab commit status.

use secrecy::SecretString;
use serde::Serialize;

use crate::app::claim_expiry::{requeue, revoke_clone_credential};
use crate::app::credentials::{self, CredentialsError};
use crate::app::{Missing, Services};
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::trigger::{ReportedState, TransitionError, Trigger, TriggerStatus};
use crate::domain::webhook::{MergeRequestRef, TriggerEvent};
use crate::ports::{GitLabError, StoreError, TriggerFilter};

/// How long a clone credential lives.
pub const CLONE_CREDENTIAL_SECS: i64 = 2 * 3600;

/// A trigger as build systems see it, on the API and on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerView {
    pub id: TriggerId,
    pub integration_id: IntegrationId,
    pub repository_id: RepositoryId,
    pub project_id: ProjectId,
    /// From the stored repository, never from the payload.
    pub full_name: Option<String>,
    pub clone_url: Option<String>,
    pub event: TriggerEvent,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub merge_request: Option<MergeRequestRef>,
    pub actor: Option<String>,
    pub status: TriggerStatus,
    pub target_url: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The trigger with its repository's name and clone URL: the ones it carries, or, for a trigger
/// stored before it carried them, the stored repository's (absent if the repository is gone).
pub async fn trigger_view(services: &Services, trigger: &Trigger) -> Result<TriggerView, StoreError> {
    if let (Some(full_name), Some(clone_url)) = (&trigger.full_name, &trigger.clone_url) {
        return Ok(view_with(trigger, Some(full_name.clone()), Some(clone_url.clone())));
    }
    let repository = services.repositories.get_repository(&trigger.repository_id).await?;
    let clone_url = match &repository {
        Some(repo) if repo.clone_url.is_some() => repo.clone_url.clone(),
        Some(repo) => services
            .integrations
            .get_integration(&trigger.integration_id)
            .await?
            .map(|i| repo.clone_url_on(&i.host_url)),
        None => None,
    };
    Ok(view_with(trigger, repository.map(|r| r.full_name), clone_url))
}

fn view_with(trigger: &Trigger, full_name: Option<String>, clone_url: Option<String>) -> TriggerView {
    TriggerView {
        id: trigger.id.clone(),
        integration_id: trigger.integration_id.clone(),
        repository_id: trigger.repository_id.clone(),
        project_id: trigger.project_id,
        full_name,
        clone_url,
        event: trigger.event,
        git_ref: trigger.git_ref.clone(),
        sha: trigger.sha.clone(),
        branch: trigger.branch.clone(),
        tag: trigger.tag.clone(),
        merge_request: trigger.merge_request.clone(),
        actor: trigger.actor.clone(),
        status: trigger.status,
        target_url: trigger.target_url.clone(),
        description: trigger.description.clone(),
        created_at: trigger.created_at,
        updated_at: trigger.updated_at,
    }
}

/// A page of the queue.
pub struct TriggerPage {
    pub triggers: Vec<TriggerView>,
    pub next_cursor: Option<String>,
}

/// Up to `limit` triggers matching `filter`, oldest first, after the decoded `cursor`. Claims
/// that ran out are queued again by the claim expiry on its schedule, not here.
///
/// # Errors
/// A storage failure.
pub async fn list_build_triggers(
    services: &Services,
    filter: &TriggerFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<TriggerPage, StoreError> {
    let mut triggers = services.triggers.list_triggers(filter, cursor, limit + 1).await?;
    let more = triggers.len() > limit;
    triggers.truncate(limit);
    let next_cursor = if more {
        triggers
            .last()
            .map(|t| crate::app::cursors::encode_cursor(&t.queue_position()))
    } else {
        None
    };
    let views = futures::future::try_join_all(triggers.iter().map(|t| trigger_view(services, t))).await?;
    Ok(TriggerPage {
        triggers: views,
        next_cursor,
    })
}

/// Why a trigger could not be read, claimed or reported on.
///
/// # Errors
/// - `NotFound`: no such trigger (or its integration was deleted).
/// - `AlreadyClaimed`: another build system holds it (or won the race for it).
/// - `Transition`: a report that does not fit: not claimed, or already finished.
/// - `NotClaimant`: the caller is not the build system that claimed it.
/// - `CloneCredentialUnavailable`: GitLab would not issue a deploy token; the trigger is queued
///   again, and the text says what to grant.
/// - `Credentials`: the integration's own token cannot be used.
/// - `Store`: storage failed.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("trigger not found")]
    NotFound,
    #[error("the trigger is already claimed")]
    AlreadyClaimed,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("only the build system that claimed the trigger may report on it")]
    NotClaimant,
    #[error("GitLab would not issue a clone credential: {0}")]
    CloneCredentialUnavailable(GitLabError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Missing> for TriggerError {
    fn from(_: Missing) -> Self {
        TriggerError::NotFound
    }
}

async fn stored_trigger(services: &Services, id: &TriggerId) -> Result<Trigger, TriggerError> {
    services.triggers.get_trigger(id).await?.ok_or(TriggerError::NotFound)
}

/// One trigger. A claim past its timeout is never shown as held: one the schedule has not
/// reached yet is queued again here.
pub async fn get_build_trigger(services: &Services, id: &TriggerId) -> Result<TriggerView, TriggerError> {
    let mut trigger = stored_trigger(services, id).await?;
    let now = services.clock.now();
    if trigger.claim_expired(now) {
        trigger = requeue(services, &trigger, now).await?;
    }
    Ok(trigger_view(services, &trigger).await?)
}

/// A claimed trigger and the credential to clone its repository with.
pub struct ClaimedTrigger {
    pub trigger: TriggerView,
    pub clone: CloneCredential,
}

/// A deploy token for one repository, readable only, short-lived.
pub struct CloneCredential {
    pub url: String,
    pub username: String,
    pub password: SecretString,
    pub expires_at: i64,
}

/// Claims a queued trigger for `caller`. Exactly one of several racing claims wins (a write
/// conditioned on the version read); the winner gets a deploy token GitLab issues for this
/// repository only, which is revoked when the build ends or its claim runs out.
pub async fn claim_build_trigger(
    services: &Services,
    id: &TriggerId,
    caller: &str,
) -> Result<ClaimedTrigger, TriggerError> {
    let now = services.clock.now();
    let mut trigger = stored_trigger(services, id).await?;
    if trigger.claim_expired(now) {
        trigger = requeue(services, &trigger, now).await?;
    }
    match trigger.status {
        TriggerStatus::Queued => {}
        status if status.is_final() => return Err(TransitionError::Finished.into()),
        _ => return Err(TriggerError::AlreadyClaimed),
    }
    let claimed = trigger.claimed(caller, now + services.config.claim_timeout_secs, now);
    match services.triggers.update_trigger(&claimed).await {
        Err(StoreError::Conflict) => return Err(TriggerError::AlreadyClaimed),
        other => other?,
    }
    match issue_clone_credential(services, &claimed, now).await {
        Ok(done) => Ok(done),
        Err(err) => {
            // Whatever stopped the credential, the trigger must not stay claimed by nobody. A
            // refusal by GitLab counts towards failing it; a passing fault does not.
            let next = match &err {
                TriggerError::CloneCredentialUnavailable(refusal) if is_refusal(refusal) => {
                    claimed.clone_refused(&refusal.short_reason(), now)
                }
                _ => claimed.requeued(now),
            };
            match services.triggers.update_trigger(&next).await {
                Ok(()) if next.status == TriggerStatus::Failed => {
                    tracing::warn!(trigger_id = %next.id, "a trigger GitLab would not let us clone failed");
                    services.handoff.state_changed(&next);
                }
                Ok(()) => {}
                Err(requeue_err) => {
                    tracing::warn!(trigger_id = %claimed.id, error = %requeue_err, "a failed claim could not be queued again; its claim runs out on its own");
                }
            }
            Err(err)
        }
    }
}

/// GitLab saying no about the project (not the token, not a passing fault): asking again will
/// not change its answer.
fn is_refusal(err: &GitLabError) -> bool {
    match err {
        GitLabError::Forbidden | GitLabError::NotFound => true,
        GitLabError::Status(code) => (400..500).contains(code) && *code != 429,
        _ => false,
    }
}

async fn issue_clone_credential(
    services: &Services,
    claimed: &Trigger,
    now: i64,
) -> Result<ClaimedTrigger, TriggerError> {
    let integration = services
        .integration(&claimed.integration_id)
        .await
        .map_err(|e| match e {
            crate::app::LookupError::Missing(m) => TriggerError::from(m),
            crate::app::LookupError::Store(s) => TriggerError::Store(s),
        })?;
    let view = trigger_view(services, claimed).await?;
    let url = view
        .clone_url
        .clone()
        .ok_or(TriggerError::CloneCredentialUnavailable(GitLabError::NotFound))?;
    let expires_at = now + CLONE_CREDENTIAL_SECS;
    let name = format!("oore-{}", claimed.id);
    let (gitlab, host, project, name) = (
        services.gitlab.as_ref(),
        &integration.host_url,
        claimed.project_id,
        &name,
    );
    let deploy = credentials::with_token(services, &integration, |token| async move {
        gitlab
            .create_deploy_token(host, &token, project, name, expires_at)
            .await
    })
    .await?
    .map_err(TriggerError::CloneCredentialUnavailable)?;
    let with_token = Trigger {
        deploy_token_id: Some(deploy.id),
        version: claimed.version + 1,
        ..claimed.clone()
    };
    if let Err(err) = services.triggers.update_trigger(&with_token).await {
        revoke_clone_credential(services, &with_token).await;
        return Err(match err {
            StoreError::Conflict => TriggerError::AlreadyClaimed,
            other => other.into(),
        });
    }
    // A delete that marked the integration while the token was issued will not find this claim
    // in time to revoke it: the claim revokes its own.
    if let Err(crate::app::LookupError::Missing(_)) = services.integration(&claimed.integration_id).await {
        revoke_clone_credential(services, &with_token).await;
        return Err(TriggerError::NotFound);
    }
    tracing::info!(trigger_id = %claimed.id, "trigger claimed");
    Ok(ClaimedTrigger {
        trigger: view,
        clone: CloneCredential {
            url,
            username: deploy.username,
            password: deploy.token,
            expires_at,
        },
    })
}

/// Who reports, and whether their role may report on any trigger (owner, admin).
pub struct Reporter<'a> {
    pub caller: &'a str,
    pub may_report_any: bool,
}

/// A state a build system reports.
pub struct StatusReport {
    pub state: ReportedState,
    pub target_url: Option<String>,
    pub description: Option<String>,
}

/// Records a report on a claimed trigger and shows it at GitLab. A final state revokes the
/// clone credential.
pub async fn report_build_status(
    services: &Services,
    id: &TriggerId,
    reporter: Reporter<'_>,
    report: StatusReport,
) -> Result<TriggerView, TriggerError> {
    let now = services.clock.now();
    let mut trigger = stored_trigger(services, id).await?;
    if trigger.claim_expired(now) {
        trigger = requeue(services, &trigger, now).await?;
    }
    let updated = trigger.reported(
        report.state,
        report.target_url,
        report.description,
        now + services.config.claim_timeout_secs,
        now,
    )?;
    if !reporter.may_report_any && trigger.claimed_by.as_deref() != Some(reporter.caller) {
        return Err(TriggerError::NotClaimant);
    }
    match services.triggers.update_trigger(&updated).await {
        Err(StoreError::Conflict) => return Err(TriggerError::AlreadyClaimed),
        other => other?,
    }
    // Answered once stored: GitLab is shown the state, and a final one's clone credential is
    // revoked, off the request path and after every earlier state of this trigger.
    services.handoff.state_changed(&updated);
    Ok(trigger_view(services, &updated).await?)
}
