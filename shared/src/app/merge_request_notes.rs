//! One summary note per merge request (`MERGE_REQUEST_NOTES=true`): written when the request's
//! first build finishes, then edited by each later one (never back to an older build's); a
//! note GitLab no longer has is written anew. Off the request path, like statuses, and best
//! effort: GitLab failing never holds a build up.

use crate::app::Services;
use crate::app::commit_status::status_reporting;
use crate::app::credentials::with_token;
use crate::domain::merge_request_note::{MergeRequestNote, summary_body};
use crate::domain::trigger::Trigger;
use crate::ports::GitLabError;

/// Writes or edits the summary note of the merge request a finished `trigger` built; answers
/// whether GitLab now shows it.
pub async fn write_summary_note(services: &Services, trigger: &Trigger) -> bool {
    let Some(merge_request) = trigger.merge_request.as_ref() else {
        return false;
    };
    if !services.config.merge_request_notes || !trigger.status.is_final() {
        return false;
    }
    let integration = match services.integrations.get_integration(&trigger.integration_id).await {
        Ok(Some(integration)) if integration.deleted_at.is_none() => integration,
        Ok(_) => return false,
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "summary note not written: the integration could not be read");
            return false;
        }
    };
    // Notes need the api scope, as statuses do.
    if !status_reporting(&integration).available {
        return false;
    }
    let iid = merge_request.iid;
    let kept = match services
        .triggers
        .merge_request_note(&trigger.integration_id, trigger.project_id, iid)
        .await
    {
        Ok(kept) => kept,
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "summary note not written: its record could not be read");
            return false;
        }
    };
    if kept.as_ref().is_some_and(|note| note.shows_or_follows(trigger)) {
        return true;
    }
    let body = summary_body(trigger, &services.config.status_name);
    let (gitlab, host, body) = (services.gitlab.as_ref(), &integration.host_url, body.as_str());
    let project = trigger.project_id;
    let kept_id = kept.as_ref().map(|note| note.note_id);
    let written = with_token(services, &integration, |token| async move {
        if let Some(note_id) = kept_id {
            match gitlab
                .edit_merge_request_note(host, &token, project, iid, note_id, body)
                .await
            {
                Ok(()) => return Ok(note_id),
                // Deleted at GitLab: written anew below.
                Err(GitLabError::NotFound) => {}
                Err(err) => return Err(err),
            }
        }
        gitlab.create_merge_request_note(host, &token, project, iid, body).await
    })
    .await;
    let note_id = match written {
        Ok(Ok(note_id)) => note_id,
        Ok(Err(err)) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "GitLab did not take the summary note");
            return false;
        }
        Err(err) => {
            tracing::warn!(trigger_id = %trigger.id, error = %err, "summary note not written: no usable GitLab token");
            return false;
        }
    };
    let note = MergeRequestNote::of(trigger, iid, note_id, services.clock.now());
    if let Err(err) = services.triggers.keep_merge_request_note(&note).await {
        tracing::warn!(trigger_id = %trigger.id, error = %err, "the summary note's id could not be kept");
    }
    true
}
