//! The one summary note kept on a merge request (`MERGE_REQUEST_NOTES`): which GitLab note it
//! is, and what it says about the request's latest finished build.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{IntegrationId, ProjectId, TriggerId};
use crate::domain::trigger::Trigger;

/// How long a request's note id is kept after its last build: a request idle that long gets a
/// new note if it builds again.
pub const NOTE_RETENTION_SECS: i64 = 180 * 24 * 3600;

/// The GitLab note that summarises a merge request's builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestNote {
    pub integration_id: IntegrationId,
    /// The target project, where the request and its note live.
    pub project_id: ProjectId,
    pub iid: u64,
    pub note_id: u64,
    /// The build the note shows, and its place in the queue: a build that finishes after a
    /// newer one (or a stream record handled twice) does not overwrite it.
    pub trigger_id: TriggerId,
    pub queue_position: String,
    pub updated_at: i64,
    pub expires_at: i64,
}

impl MergeRequestNote {
    /// The note `note_id` on the request `trigger` built, as of `now`.
    pub fn of(trigger: &Trigger, iid: u64, note_id: u64, now: i64) -> Self {
        MergeRequestNote {
            integration_id: trigger.integration_id.clone(),
            project_id: trigger.project_id,
            iid,
            note_id,
            trigger_id: trigger.id.clone(),
            queue_position: trigger.queue_position(),
            updated_at: now,
            expires_at: now + NOTE_RETENTION_SECS,
        }
    }

    /// Whether the note already shows `trigger`, or a newer build of the request.
    pub fn shows_or_follows(&self, trigger: &Trigger) -> bool {
        self.trigger_id == trigger.id || self.queue_position > trigger.queue_position()
    }
}

/// `1h 2m`, `3m 4s`, `5s`.
fn took(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{rest}s"),
        (0, _) => format!("{minutes}m {rest}s"),
        _ => format!("{hours}h {minutes}m"),
    }
}

/// The note's text for a finished build: its state, commit, the build system's link and the
/// time from the delivery to the final report. `check` is the name statuses carry.
pub fn summary_body(trigger: &Trigger, check: &str) -> String {
    let short_sha = trigger.sha.get(..8).unwrap_or(&trigger.sha);
    let link = trigger
        .target_url
        .as_deref()
        .map_or_else(|| "not reported".to_string(), |url| format!("<{url}>"));
    format!(
        "**{check}**: the latest build of this merge request is **{state}**.\n\n\
         | | |\n|---|---|\n\
         | commit | `{short_sha}` |\n\
         | build | {link} |\n\
         | took | {took} |\n\n\
         This note is updated by each build of the merge request.",
        state = trigger.status.as_str(),
        took = took(trigger.updated_at - trigger.created_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(took(5), "5s");
        assert_eq!(took(184), "3m 4s");
        assert_eq!(took(3720), "1h 2m");
        assert_eq!(took(-3), "0s");
    }
}
