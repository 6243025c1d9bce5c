//! The one-time move of what an older runner stored, run when the data folder is opened: a
//! trigger stored under a random id gets the dedupe marker of its build (the marker every
//! delivery of that build checks), so a resend of its delivery stays a duplicate.

use redb::{ReadableTable, WriteTransaction};

use crate::adapters::embedded::expiry::{Kind, schedule};
use crate::adapters::embedded::{DEDUPE, SCHEMA, TRIGGERS, decode, exists, put, unavailable, under};
use crate::domain::trigger::{FINAL_TRIGGER_RETENTION_SECS, Trigger};
use crate::ports::StoreError;

/// The marker of this move in the `schema` table.
const BUILD_MARKERS: &str = "build-markers";

/// Marks the builds of triggers stored before, once; answers how many it marked.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut schema = txn.open_table(SCHEMA).map_err(unavailable)?;
    if exists(&schema, BUILD_MARKERS)? {
        return Ok(0);
    }
    let triggers = txn.open_table(TRIGGERS).map_err(unavailable)?;
    let mut dedupe = txn.open_table(DEDUPE).map_err(unavailable)?;
    let mut marked = Vec::new();
    for entry in triggers.iter().map_err(unavailable)? {
        let (_, value) = entry.map_err(unavailable)?;
        let trigger: Trigger = decode(value.value())?;
        let build = trigger.build_id();
        if build == trigger.id {
            continue;
        }
        let marker = under(&trigger.integration_id, &format!("build\n{build}"));
        if !exists(&dedupe, &marker)? {
            let until = trigger.created_at + FINAL_TRIGGER_RETENTION_SECS;
            put(&mut dedupe, &marker, &until)?;
            marked.push((marker, until));
        }
    }
    drop(dedupe);
    for (marker, until) in &marked {
        schedule(txn, *until, Kind::Dedupe, marker)?;
    }
    put(&mut schema, BUILD_MARKERS, &true)?;
    Ok(marked.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
    use crate::domain::integration::Repository;
    use crate::domain::webhook::{BuildRequest, TriggerEvent};

    fn old_trigger() -> Trigger {
        let integration = IntegrationId::from("i");
        let repository = Repository {
            id: RepositoryId::derive(&integration, ProjectId(1)),
            integration_id: integration,
            installation_id: "inst".into(),
            external_id: ProjectId(1),
            full_name: "group/project".into(),
            default_branch: None,
            is_private: true,
            avatar_url: None,
            clone_url: None,
            archived: false,
            sync_generation: 0,
            created_at: 0,
            updated_at: 0,
        };
        let request = BuildRequest {
            event: TriggerEvent::Push,
            git_ref: "refs/heads/main".into(),
            branch: Some("main".into()),
            tag: None,
            commit_sha: "a".repeat(40),
            actor: None,
            merge_request: None,
        };
        let mut trigger = Trigger::queued(request, &repository, "key", 100);
        trigger.id = TriggerId::generate();
        trigger
    }

    #[test]
    fn old_triggers_get_their_build_marker_once() {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let old = old_trigger();
        let txn = db.begin_write().unwrap();
        {
            let mut triggers = txn.open_table(TRIGGERS).unwrap();
            put(&mut triggers, old.id.as_str(), &old).unwrap();
        }
        assert_eq!(migrate(&txn).unwrap(), 1);
        assert_eq!(migrate(&txn).unwrap(), 0, "done once");
        let dedupe = txn.open_table(DEDUPE).unwrap();
        let marker = under(&old.integration_id, &format!("build\n{}", old.build_id()));
        assert!(exists(&dedupe, &marker).unwrap());
    }
}
