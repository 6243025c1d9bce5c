//! Every key and prefix format of the table, in one place (the access patterns in `mod.rs`).

use sha2::{Digest, Sha256};

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId, TriggerId};
use crate::domain::trigger::TriggerStatus;

/// The sort key of an integration's own item, and of an OAuth state's.
pub const META: &str = "META";
/// The `gsi1pk` every integration is listed under.
pub const INTEGRATIONS: &str = "INTEGRATIONS";
pub const INSTALLATION_PREFIX: &str = "INSTALLATION#";
pub const REPOSITORY_PREFIX: &str = "REPOSITORY#";
/// The `gsi1sk` of a repository (its `gsi1pk` carries the id).
pub const REPOSITORY_GSI1SK: &str = "REPOSITORY";
/// The `gsi1sk` of a webhook key (its `gsi1pk` carries the digest).
pub const WEBHOOK_KEY_GSI1SK: &str = "WEBHOOK_KEY";
pub const DELIVERY_PREFIX: &str = "DELIVERY#";
/// The sort key of an integration's sync record.
pub const SYNC: &str = "SYNC";
/// The sort key of the directory of an integration's name index.
pub const NAME_INDEX: &str = "NAMEINDEX";

/// The partition of an integration and everything kept under it.
pub fn integration_pk(id: &IntegrationId) -> String {
    format!("INTEGRATION#{id}")
}

pub fn installation_sk(installation_id: &str) -> String {
    format!("{INSTALLATION_PREFIX}{installation_id}")
}

pub fn repository_sk(project_id: ProjectId) -> String {
    format!("{REPOSITORY_PREFIX}{project_id}")
}

/// A repository found by its id through `gsi1`.
pub fn repository_gsi1pk(id: &RepositoryId) -> String {
    format!("{REPOSITORY_PREFIX}{id}")
}

/// Every webhook key of an integration, of any scope.
pub const WEBHOOK_KEY_ITEMS: &str = "WEBHOOK_KEY#";
/// Every key head (the current key of a scope) of an integration.
pub const WEBHOOK_HEAD_ITEMS: &str = "WEBHOOK_HEAD#";

/// Every key of one scope (`integration` or `project:{id}`) of an integration.
pub fn webhook_key_prefix(scope: &str) -> String {
    format!("WEBHOOK_KEY#{scope}#")
}

pub fn webhook_key_sk(scope: &str, digest: &str) -> String {
    format!("{}{digest}", webhook_key_prefix(scope))
}

/// A webhook key found by its secret's digest through `gsi1`.
pub fn webhook_key_gsi1pk(digest: &str) -> String {
    format!("WEBHOOK_KEY#{digest}")
}

/// The item naming a scope's current key.
pub fn webhook_head_sk(scope: &str) -> String {
    format!("WEBHOOK_HEAD#{scope}")
}

/// A delivery's dedupe marker: the key is caller-chosen text, so only its digest is a key.
pub fn dedupe_sk(delivery_key: &str) -> String {
    format!("DEDUPE#{}", hex::encode(Sha256::digest(delivery_key.as_bytes())))
}

/// A delivery log entry, under the entry's sort key (time, then id).
pub fn delivery_sk(sort_key: &str) -> String {
    format!("{DELIVERY_PREFIX}{sort_key}")
}

/// One chunk of a name index version by one writer: chunks of a new version are written before
/// the directory names it, so readers never see a half-written index, and two writers of one
/// version never write the same chunk.
pub fn name_index_chunk_sk(version: u64, writer: &str, chunk: usize) -> String {
    if writer.is_empty() {
        format!("{NAME_INDEX}#{version:010}#{chunk:05}")
    } else {
        format!("{NAME_INDEX}#{version:010}#{writer}#{chunk:05}")
    }
}

/// The project hooks we registered for an integration.
pub const HOOK_PREFIX: &str = "HOOK#";

pub fn hook_sk(project_id: ProjectId) -> String {
    format!("{HOOK_PREFIX}{project_id}")
}

/// The group hooks we registered for an integration.
pub const GROUP_HOOK_PREFIX: &str = "GROUPHOOK#";

pub fn group_hook_sk(group_id: u64) -> String {
    format!("{GROUP_HOOK_PREFIX}{group_id}")
}

/// A merge request's summary note, under its integration.
pub fn merge_request_note_sk(project_id: ProjectId, iid: u64) -> String {
    format!("MRNOTE#{project_id}#{iid}")
}

/// What every trigger's own partition key starts with (the hand-off filters the stream on it).
pub const TRIGGER_PREFIX: &str = "TRIGGER#";

/// A trigger's own partition: found by its id alone.
pub fn trigger_pk(id: &TriggerId) -> String {
    format!("{TRIGGER_PREFIX}{id}")
}

/// One integration's triggers, on `gsi2`, by queue position: its queue, and the log entries
/// of its deliveries that built.
pub fn integration_triggers_gsi2pk(id: &IntegrationId) -> String {
    format!("TRIGGERS#{id}")
}

/// The log entries of one integration's deliveries that built nothing (each also its own
/// dedupe marker), on `gsi2`, by time.
pub fn integration_deliveries_gsi2pk(id: &IntegrationId) -> String {
    format!("DELIVERIES#{id}")
}

/// The queue of triggers in one status, on `gsi1`; its sort key is the trigger's queue position.
pub fn trigger_queue_gsi1pk(status: TriggerStatus) -> String {
    format!("TRIGGERS#{}", status.as_str())
}

pub fn oauth_state_pk(state_digest: &str) -> String {
    format!("OAUTH_STATE#{state_digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_are_the_ones_stored_items_carry() {
        let integration = IntegrationId::from("i1");
        assert_eq!(integration_pk(&integration), "INTEGRATION#i1");
        assert_eq!(repository_sk(ProjectId(42)), "REPOSITORY#42");
        assert_eq!(webhook_key_sk("project:42", "ab"), "WEBHOOK_KEY#project:42#ab");
        assert_eq!(trigger_pk(&TriggerId::from("t")), "TRIGGER#t");
        assert_eq!(trigger_queue_gsi1pk(TriggerStatus::Queued), "TRIGGERS#queued");
        assert_eq!(dedupe_sk("k"), format!("DEDUPE#{}", hex::encode(Sha256::digest(b"k"))));
    }
}
