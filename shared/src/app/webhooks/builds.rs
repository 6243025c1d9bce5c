//! A delivery that builds: its repository (the stored one, or one adopted from GitLab for a
//! project not synced yet), then its trigger recorded once and handed off.

use crate::app::Services;
use crate::app::credentials::with_token;
use crate::app::webhooks::{Verified, WebhookError, WebhookOutcome, duplicate, ignore};
use crate::domain::delivery::DeliveryOutcome;
use crate::domain::ids::ProjectId;
use crate::domain::integration::Repository;
use crate::domain::name_index::{IndexChange, IndexEntry, WhenMissing};
use crate::domain::trigger::Trigger;
use crate::domain::webhook::BuildRequest;
use crate::ports::{GitLabError, Recorded};

/// Records the build `request` asks for on the delivery's project: as a retry (its own trigger
/// id, for an explicit command) or as the build every delivery of that commit and ref shares.
pub(super) async fn build(
    services: &Services,
    verified: &Verified,
    project: Option<ProjectId>,
    request: BuildRequest,
    retry: bool,
) -> Result<WebhookOutcome, WebhookError> {
    let Some(project) = project else {
        let refusal = WebhookError::InvalidPayload("the delivery names no project (project.id)".into());
        return Err(verified.refuse(services, "the event names no project", refusal).await);
    };
    // The payload's project path is not trusted: a repository's secret proves only its
    // project id, so the trigger takes its names from the stored repository.
    let repository = match &verified.repository {
        Some(repository) => repository.clone(),
        None => repository_of(services, verified, project).await?,
    };
    if repository.archived {
        return ignore(services, verified, "archived projects do not build".into()).await;
    }
    let (key, now) = (&verified.delivery_key, verified.now);
    let mut trigger = if retry {
        Trigger::retry(request, &repository, key, now)
    } else {
        Trigger::queued(request, &repository, key, now)
    };
    let entry = verified.record(services, DeliveryOutcome::Triggered, None, Some(trigger.id.clone()));
    trigger.delivery_kept_until = Some(entry.expires_at);
    trigger.delivery_entry = Some(entry.id.clone());
    match verified.record_once(services, &entry, Some(&trigger)).await? {
        Recorded::New => {
            tracing::info!(integration_id = %trigger.integration_id, trigger_id = %trigger.id, event = ?trigger.event, retry, "build triggered");
            // Off the request path: locally a background task, on AWS the table's stream.
            services.handoff.enqueue(&trigger);
            Ok(WebhookOutcome::Triggered(trigger.id))
        }
        Recorded::Duplicate => Ok(duplicate(services, verified).await),
    }
}

/// The delivery's repository: the stored one, else the project looked up at GitLab and stored.
pub(super) async fn repository_of(
    services: &Services,
    verified: &Verified,
    project: ProjectId,
) -> Result<Repository, WebhookError> {
    match stored_repository(services, verified, project).await? {
        Some(repository) => Ok(repository),
        None => adopt_repository(services, verified, project).await,
    }
}

/// The stored repository of the delivery's project, read consistently: one just removed (or
/// its integration deleted) does not build.
async fn stored_repository(
    services: &Services,
    verified: &Verified,
    project: ProjectId,
) -> Result<Option<Repository>, WebhookError> {
    let found = services
        .repositories
        .get_repositories(&verified.key.integration_id, &[project])
        .await?;
    Ok(found.into_iter().next())
}

/// A delivery for a project not synced yet: look it up at GitLab once and store it, instead of
/// dropping the build; answers the stored repository. A project the integration cannot see is
/// refused like a wrong token.
async fn adopt_repository(
    services: &Services,
    verified: &Verified,
    project_id: ProjectId,
) -> Result<Repository, WebhookError> {
    let integration_id = &verified.key.integration_id;
    let integration = services
        .integrations
        .get_integration(integration_id)
        .await?
        .filter(|i| i.deleted_at.is_none())
        .ok_or(WebhookError::InvalidToken)?;
    let (gitlab, host) = (services.gitlab.as_ref(), &integration.host_url);
    let answer = with_token(services, &integration, |token| async move {
        gitlab.project(host, &token, project_id).await
    })
    .await?;
    let project = match answer {
        Ok(project) => project,
        Err(GitLabError::NotFound | GitLabError::Forbidden) => {
            return Err(verified
                .refuse(
                    services,
                    "the integration cannot see this project at GitLab",
                    WebhookError::InvalidToken,
                )
                .await);
        }
        Err(err) => {
            tracing::warn!(%integration_id, error = %err, "project lookup for a webhook failed");
            return Err(WebhookError::GitLabUnavailable(err));
        }
    };
    let installation_id = services.installation_id(integration_id).await?;
    let repository = project.to_repository(integration_id, &installation_id, verified.now);
    services
        .repositories
        .write_repositories(integration_id, std::slice::from_ref(&repository), &[])
        .await?;
    // Listings read the name index: the adopted repository joins it, unless no pass wrote one
    // yet (listings then read the repositories themselves).
    let change = IndexChange {
        added: vec![IndexEntry::of(&repository)],
        gone: Vec::new(),
    };
    services
        .repositories
        .change_name_index(integration_id, change, WhenMissing::Leave)
        .await?;
    tracing::info!(%integration_id, %project_id, "repository recorded from a webhook delivery");
    Ok(repository)
}
