//! A build trigger and its lifecycle: queued until a build system claims it, then running, then
//! one final state. The claim is a lease: it runs out without a report, and the trigger is queued
//! again.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::integration::Repository;
use crate::domain::webhook::{BuildRequest, MergeRequestRef, TriggerEvent};

pub use crate::domain::trigger_status::{ReportedState, TransitionError, TriggerStatus};

/// Refusals of a clone credential after which a trigger fails rather than waits again.
pub const MOST_CLONE_REFUSALS: u32 = 3;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How long a finished trigger stays readable (its build system and the UI may still ask).
pub const FINAL_TRIGGER_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// A build a delivery asked for, as stored. Its repository's full name and clone URL are
/// copied from the stored repository (never from the payload) when the delivery is recorded,
/// so reading the queue needs no lookup per trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub id: TriggerId,
    pub integration_id: IntegrationId,
    pub repository_id: RepositoryId,
    pub project_id: ProjectId,
    /// The repository's `path_with_namespace` when the trigger was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The repository's HTTPS clone URL when the trigger was made (GitLab's `http_url_to_repo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_url: Option<String>,
    pub event: TriggerEvent,
    /// The full ref: `refs/heads/x`, `refs/tags/v1`, or `refs/merge-requests/{iid}/head`.
    pub git_ref: String,
    pub sha: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub merge_request: Option<MergeRequestRef>,
    pub actor: Option<String>,
    pub status: TriggerStatus,
    pub target_url: Option<String>,
    pub description: Option<String>,
    /// The caller (`sub`) holding the claim.
    #[serde(default)]
    pub claimed_by: Option<String>,
    /// When the claim runs out unless a report renews it.
    #[serde(default)]
    pub claim_expires_at: Option<i64>,
    /// The GitLab deploy token handed out with the claim, to revoke when the build ends.
    #[serde(default)]
    pub deploy_token_id: Option<u64>,
    pub delivery_key: String,
    /// Until when the delivery that made it is kept (its log entry and dedupe protection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_kept_until: Option<i64>,
    /// How often GitLab refused the clone credential for a claim of it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clone_refusals: u32,
    /// The log entry id of the delivery that made it: time-ordered, so triggers and log entries
    /// of one second keep the order they arrived in (the trigger id is derived, not ordered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_entry: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every change: writes are conditioned on the version they read.
    #[serde(default)]
    pub version: u64,
}

impl Trigger {
    /// A queued trigger for `request` on the stored `repository`, its id derived from what it
    /// builds ([`Trigger::build_id`]).
    pub fn queued(request: BuildRequest, repository: &Repository, delivery_key: &str, now: i64) -> Self {
        let mut trigger = Trigger {
            id: TriggerId::generate(),
            integration_id: repository.integration_id.clone(),
            repository_id: repository.id.clone(),
            project_id: repository.external_id,
            full_name: Some(repository.full_name.clone()),
            clone_url: repository.clone_url.clone(),
            event: request.event,
            git_ref: request.git_ref,
            sha: request.commit_sha,
            branch: request.branch,
            tag: request.tag,
            merge_request: request.merge_request,
            actor: request.actor,
            status: TriggerStatus::Queued,
            target_url: None,
            description: None,
            claimed_by: None,
            claim_expires_at: None,
            deploy_token_id: None,
            delivery_key: delivery_key.to_string(),
            delivery_kept_until: None,
            delivery_entry: None,
            clone_refusals: 0,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        trigger.id = trigger.build_id();
        trigger
    }

    /// A queued trigger asked for explicitly (an `/oore build` comment): a new build even of a
    /// commit that built before. Its id is derived from the delivery that asked, so GitLab's
    /// resends of that comment still make one trigger.
    pub fn retry(request: BuildRequest, repository: &Repository, delivery_key: &str, now: i64) -> Self {
        let mut trigger = Trigger::queued(request, repository, delivery_key, now);
        trigger.id = TriggerId::for_build(&format!(
            "retry\n{}\n{}\n{}",
            trigger.integration_id, trigger.project_id, delivery_key
        ));
        trigger
    }

    /// The id every delivery of this build derives: integration, project, event kind, ref and
    /// commit. A new trigger's own id; a trigger stored before ids were derived keeps a random
    /// one, and stores mark its build under this id.
    pub fn build_id(&self) -> TriggerId {
        TriggerId::for_build(&format!(
            "{}\n{}\n{}\n{}\n{}",
            self.integration_id,
            self.project_id,
            self.event.as_str(),
            self.git_ref,
            self.sha
        ))
    }

    /// The short ref GitLab's commit status takes: the branch (a merge request's source
    /// branch) or the tag.
    pub fn status_ref(&self) -> Option<&str> {
        self.branch.as_deref().or(self.tag.as_deref())
    }

    /// When a finished trigger may be dropped (the table's TTL removes it then): 30 days after
    /// it finished, and never before its delivery's retention ends (where the trigger is the
    /// delivery's record, its dedupe protection goes with it). A trigger still queued or held
    /// is kept.
    pub fn expires_at(&self) -> Option<i64> {
        self.status
            .is_final()
            .then(|| (self.updated_at + FINAL_TRIGGER_RETENTION_SECS).max(self.delivery_kept_until.unwrap_or(0)))
    }

    /// Whether the claim ran out at `now`.
    pub fn claim_expired(&self, now: i64) -> bool {
        self.status.is_active() && self.claim_expires_at.is_some_and(|at| at <= now)
    }

    /// The trigger claimed by `caller` until `until`.
    pub fn claimed(&self, caller: &str, until: i64, now: i64) -> Trigger {
        Trigger {
            status: TriggerStatus::Claimed,
            claimed_by: Some(caller.to_string()),
            claim_expires_at: Some(until),
            deploy_token_id: None,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The trigger after GitLab refused a clone credential for its claim: queued again, or
    /// failed with `reason` at the [`MOST_CLONE_REFUSALS`]th refusal, so a repository GitLab will
    /// not let us clone does not hold the head of the queue forever.
    pub fn clone_refused(&self, reason: &str, now: i64) -> Trigger {
        let refusals = self.clone_refusals.saturating_add(1);
        let queued = self.requeued(now);
        if refusals < MOST_CLONE_REFUSALS {
            return Trigger {
                clone_refusals: refusals,
                ..queued
            };
        }
        Trigger {
            status: TriggerStatus::Failed,
            description: Some(format!("GitLab refused a clone credential {refusals} times: {reason}")),
            clone_refusals: refusals,
            ..queued
        }
    }

    /// The trigger queued again (a claim that failed or ran out).
    pub fn requeued(&self, now: i64) -> Trigger {
        Trigger {
            status: TriggerStatus::Queued,
            claimed_by: None,
            claim_expires_at: None,
            deploy_token_id: None,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The trigger after a report of `state`; a non-final report renews the claim until `until`.
    pub fn reported(
        &self,
        state: ReportedState,
        target_url: Option<String>,
        description: Option<String>,
        until: i64,
        now: i64,
    ) -> Result<Trigger, TransitionError> {
        if self.status.is_final() {
            return Err(TransitionError::Finished);
        }
        if !self.status.is_active() {
            return Err(TransitionError::NotClaimed);
        }
        let status = state.status();
        Ok(Trigger {
            status,
            target_url: target_url.or_else(|| self.target_url.clone()),
            description: description.or_else(|| self.description.clone()),
            claim_expires_at: if status.is_final() { None } else { Some(until) },
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The trigger's place in the queue: creation time, then arrival (its delivery's entry id;
    /// the trigger id for triggers made without one). It is also its delivery's log sort key.
    pub fn queue_position(&self) -> String {
        format!("{:011}#{}", self.created_at.max(0), self.arrival())
    }

    /// What orders the trigger among those of its second.
    fn arrival(&self) -> &str {
        self.delivery_entry.as_deref().unwrap_or(self.id.as_str())
    }

    /// The id of its delivery's log entry.
    pub fn delivery_entry_id(&self) -> String {
        self.arrival().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger() -> Trigger {
        let request = BuildRequest {
            event: TriggerEvent::Push,
            git_ref: "refs/heads/main".into(),
            branch: Some("main".into()),
            tag: None,
            commit_sha: "a".repeat(40),
            actor: None,
            merge_request: None,
        };
        Trigger::queued(request, &repository(), "k", 100)
    }

    fn repository() -> Repository {
        let integration = IntegrationId::from("i");
        Repository {
            id: RepositoryId::derive(&integration, ProjectId(1)),
            integration_id: integration,
            installation_id: "inst".into(),
            external_id: ProjectId(1),
            full_name: "group/project".into(),
            default_branch: Some("main".into()),
            is_private: true,
            avatar_url: None,
            clone_url: Some("https://gitlab.example.com/group/project.git".into()),
            archived: false,
            sync_generation: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_finished_trigger_is_kept_while_its_delivery_is() {
        let mut done = trigger().claimed("r", 200, 110);
        done = done.reported(ReportedState::Success, None, None, 0, 120).unwrap();
        assert_eq!(trigger().expires_at(), None, "a queued trigger is kept");
        assert_eq!(done.expires_at(), Some(120 + FINAL_TRIGGER_RETENTION_SECS));
        done.delivery_kept_until = Some(120 + 2 * FINAL_TRIGGER_RETENTION_SECS);
        assert_eq!(done.expires_at(), Some(120 + 2 * FINAL_TRIGGER_RETENTION_SECS));
    }

    #[test]
    fn every_delivery_of_one_build_derives_the_same_id() {
        let first = trigger();
        let mut later = trigger();
        later.delivery_key = "another-hook".into();
        later.created_at = 200;
        assert_eq!(first.id, later.id);
        assert_eq!(first.id, first.build_id());
        later.sha = "b".repeat(40);
        assert_ne!(first.build_id(), later.build_id());
        assert_eq!(first.full_name.as_deref(), Some("group/project"));
    }

    #[test]
    fn a_retry_has_its_own_id_shared_by_resends_of_its_comment() {
        let request = || BuildRequest {
            event: TriggerEvent::MergeRequest,
            git_ref: "refs/merge-requests/1/head".into(),
            branch: Some("feature".into()),
            tag: None,
            commit_sha: "a".repeat(40),
            actor: None,
            merge_request: None,
        };
        let built = Trigger::queued(request(), &repository(), "push-delivery", 100);
        let retry = Trigger::retry(request(), &repository(), "comment-1", 200);
        assert_ne!(retry.id, built.id);
        assert_eq!(retry.id, Trigger::retry(request(), &repository(), "comment-1", 201).id);
        assert_ne!(retry.id, Trigger::retry(request(), &repository(), "comment-2", 200).id);
    }

    #[test]
    fn claimed_then_running_then_final_and_nothing_after() {
        let queued = trigger();
        assert_eq!(
            queued.reported(ReportedState::Running, None, None, 0, 0),
            Err(TransitionError::NotClaimed)
        );
        let claimed = queued.claimed("runner-1", 200, 110);
        assert_eq!((claimed.status, claimed.version), (TriggerStatus::Claimed, 1));
        let running = claimed
            .reported(ReportedState::Running, Some("https://ci/1".into()), None, 300, 120)
            .unwrap();
        assert_eq!(
            (running.status, running.claim_expires_at),
            (TriggerStatus::Running, Some(300))
        );
        let done = running
            .reported(ReportedState::Success, None, Some("ok".into()), 400, 130)
            .unwrap();
        assert_eq!(done.status, TriggerStatus::Success);
        assert_eq!(
            done.target_url.as_deref(),
            Some("https://ci/1"),
            "a report keeps what earlier ones said"
        );
        assert_eq!(done.claim_expires_at, None);
        assert_eq!(
            done.reported(ReportedState::Failed, None, None, 0, 140),
            Err(TransitionError::Finished)
        );
        let direct = trigger()
            .claimed("r", 200, 110)
            .reported(ReportedState::Skipped, None, None, 0, 111)
            .unwrap();
        assert_eq!(
            direct.status,
            TriggerStatus::Skipped,
            "claimed may go straight to a final state"
        );
    }

    #[test]
    fn a_claim_runs_out_and_requeues() {
        let claimed = trigger().claimed("r", 200, 110);
        assert!(!claimed.claim_expired(199));
        assert!(claimed.claim_expired(200));
        let again = claimed.requeued(201);
        assert_eq!(
            (again.status, again.claimed_by.as_deref(), again.version),
            (TriggerStatus::Queued, None, 2)
        );
        assert!(!again.claim_expired(1000));
    }
}
