//! The local runner's durable store: every store port on one redb file in the data folder, with
//! the vault's secrets sealed in the same file (`vault`) and expired items swept (`expiry`).
//!
//! redb because it is pure Rust (nothing to build but Rust), keeps its file format stable across
//! releases, commits with copy-on-write B-trees and an fsync (a commit that returned survives a
//! kill), serialises writers (so check-then-write inside one transaction is the conditional write
//! DynamoDB gives us) and locks its file against a second process.
//!
//! Items are JSON under string keys. Keys of items kept under an integration start with the
//! integration id and a NUL, so one integration's items are one key range.

mod expiry;
mod group_commit;
mod integrations;
mod migration;
mod repositories;
mod triggers;
mod vault;
mod webhooks;

pub use vault::{EncryptedVault, VAULT_KEY_FILE};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::ids::{IntegrationId, ProjectId};
use crate::ports::StoreError;

/// The database file inside the data folder.
pub const STORE_FILE: &str = "store.redb";

/// Every table maps a string key to a JSON document (or to nothing, for index entries).
type Items = TableDefinition<'static, &'static str, &'static [u8]>;

const INTEGRATIONS: Items = TableDefinition::new("integrations");
/// `{integration}\0{installation}`.
const INSTALLATIONS: Items = TableDefinition::new("installations");
/// `{integration}\0{project:020}`.
const REPOSITORIES: Items = TableDefinition::new("repositories");
/// repository id → its key in `REPOSITORIES`.
const REPOSITORY_IDS: Items = TableDefinition::new("repository_ids");
/// `{integration}\0{position:010}` → one name-index entry.
const NAME_INDEX: Items = TableDefinition::new("name_index");
/// integration → the number of entries its name index holds.
const NAME_INDEX_SIZES: Items = TableDefinition::new("name_index_sizes");
/// `{integration}\0{group:020}` → the group hook we registered there.
const GROUP_HOOKS: Items = TableDefinition::new("group_hooks");
/// `{integration}\0{project:020}#{iid}` → a merge request's summary note.
const MERGE_REQUEST_NOTES: Items = TableDefinition::new("merge_request_notes");
/// `{integration}\0{project:020}` → the hook record.
const HOOKS: Items = TableDefinition::new("hooks");
/// digest → webhook key.
const WEBHOOK_KEYS: Items = TableDefinition::new("webhook_keys");
/// `{integration}\0{digest}` → nothing: the keys of one integration.
const KEYS_BY_INTEGRATION: Items = TableDefinition::new("keys_by_integration");
/// `{integration}\0{dedupe key}` → the marker's expiry.
const DEDUPE: Items = TableDefinition::new("dedupe");
/// `{integration}\0{sort key}` → log entry.
const DELIVERIES: Items = TableDefinition::new("deliveries");
/// trigger id → trigger.
const TRIGGERS: Items = TableDefinition::new("triggers");
/// queue position → trigger id: the queue, oldest first.
const TRIGGER_QUEUE: Items = TableDefinition::new("trigger_queue");
/// `{integration}\0{trigger id}` → nothing: the triggers of one integration.
const TRIGGERS_BY_INTEGRATION: Items = TableDefinition::new("triggers_by_integration");
/// integration → its sync record.
const SYNCS: Items = TableDefinition::new("syncs");
/// state digest → pending authorization.
const OAUTH_STATES: Items = TableDefinition::new("oauth_states");
/// `{expires_at:020}\0{kind}\0{key}` → nothing: what the sweep looks at, soonest first.
const EXPIRY: Items = TableDefinition::new("expiry");
/// secret name → nonce and sealed value.
const SECRETS: Items = TableDefinition::new("secrets");
/// Markers of the one-time moves done on this folder (see `migration`).
const SCHEMA: Items = TableDefinition::new("schema");

const ALL_TABLES: [Items; 21] = [
    INTEGRATIONS,
    INSTALLATIONS,
    REPOSITORIES,
    REPOSITORY_IDS,
    NAME_INDEX,
    NAME_INDEX_SIZES,
    HOOKS,
    GROUP_HOOKS,
    MERGE_REQUEST_NOTES,
    WEBHOOK_KEYS,
    KEYS_BY_INTEGRATION,
    DEDUPE,
    DELIVERIES,
    TRIGGERS,
    TRIGGER_QUEUE,
    TRIGGERS_BY_INTEGRATION,
    SYNCS,
    OAUTH_STATES,
    EXPIRY,
    SECRETS,
    SCHEMA,
];

/// redb keeps pages it read in its own cache (1 GiB by default): a bound keeps the runner's
/// memory flat however much it has stored.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Why the data folder could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("another oore-local is using {0} (stop it first, or give this one its own OORE_LOCAL_DIR)")]
    InUse(PathBuf),
    #[error("the data folder {path} could not be opened: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}")]
    Vault(String),
}

/// The store: one redb database shared by every port, and by the vault.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<redb::Database>,
    /// The writer thread, which commits waiting writes together.
    writer: Arc<group_commit::Writer>,
}

/// The store and the vault of one data folder.
pub struct LocalData {
    pub store: EmbeddedStore,
    pub vault: EncryptedVault,
}

impl LocalData {
    /// Opens (making them on first use) the store and the vault key in `dir`, locking the folder
    /// for this process.
    ///
    /// # Errors
    /// `InUse` when another process has it open; `Io` when the folder or file cannot be used;
    /// `Vault` when the vault key is missing for stored secrets, or unreadable.
    pub fn open(dir: &Path) -> Result<LocalData, OpenError> {
        let io = |err: &dyn std::fmt::Display| OpenError::Io {
            path: dir.to_path_buf(),
            message: err.to_string(),
        };
        create_private_dir(dir).map_err(|e| io(&e))?;
        private_store_file(&dir.join(STORE_FILE)).map_err(|e| io(&e))?;
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join(STORE_FILE))
            .map_err(|err| match err {
                redb::DatabaseError::DatabaseAlreadyOpen => OpenError::InUse(dir.to_path_buf()),
                other => io(&other),
            })?;
        let txn = db.begin_write().map_err(|e| io(&e))?;
        for table in ALL_TABLES {
            txn.open_table(table).map_err(|e| io(&e))?;
        }
        migration::migrate(&txn).map_err(|e| io(&e))?;
        txn.commit().map_err(|e| io(&e))?;
        let db = Arc::new(db);
        let writer = Arc::new(group_commit::Writer::start(db.clone()).map_err(|e| io(&e))?);
        let store = EmbeddedStore { db, writer };
        let vault = EncryptedVault::open(store.clone(), dir)?;
        Ok(LocalData { store, vault })
    }
}

/// Makes `dir` (and its parents) if absent, readable by this user only. A folder already there
/// must be this user's, and not writable by group or others (who could replace the store or the
/// vault key): either is refused. One others may only read is narrowed to this user.
///
/// # Errors
/// When the folder cannot be made or narrowed, is another user's, or others may write in it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        return builder.create(dir);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let found = std::fs::metadata(dir)?;
        let refuse = |why: String| Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, why));
        if found.uid() != rustix::process::geteuid().as_raw() {
            return refuse(format!(
                "the data folder {} belongs to another user (uid {}); give this runner a folder of its own",
                dir.display(),
                found.uid()
            ));
        }
        let mode = found.mode() & 0o777;
        if mode & 0o022 != 0 {
            return refuse(format!(
                "others may write in the data folder {} (mode {mode:o}); close it with chmod 700",
                dir.display()
            ));
        }
        if mode & 0o077 != 0 {
            tracing::warn!(path = %dir.display(), mode = format!("{mode:o}"), "the data folder was readable by others; its mode is now 0700");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Makes the store's file readable by this user only before redb opens it (redb would make
/// it with the umask's mode), and narrows one found open to others.
fn private_store_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    options.open(path)?;
    Ok(())
}

impl EmbeddedStore {
    /// Runs `work` in a write transaction and answers once that transaction is committed (with
    /// whatever other writes were waiting: see `group_commit`). An error from `work` keeps
    /// nothing of it.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer.send(group_commit::job(work, reply))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store could not begin a write; try again".into()))?
    }

    /// Runs `work` on a snapshot (reads never wait for writers).
    fn read<T>(&self, work: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        work(&txn)
    }
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(unavailable)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| StoreError::Unavailable(format!("a stored item does not read: {err}")))
}

/// The item under `key`, decoded.
fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match table.get(key).map_err(unavailable)? {
        Some(bytes) => decode(bytes.value()).map(Some),
        None => Ok(None),
    }
}

fn put<T: Serialize>(table: &mut Table<&'static str, &'static [u8]>, key: &str, value: &T) -> Result<(), StoreError> {
    table.insert(key, encode(value)?.as_slice()).map_err(unavailable)?;
    Ok(())
}

fn remove(table: &mut Table<&'static str, &'static [u8]>, key: &str) -> Result<(), StoreError> {
    table.remove(key).map_err(unavailable)?;
    Ok(())
}

/// Whether the table has an item under `key`.
fn exists(table: &impl ReadableTable<&'static str, &'static [u8]>, key: &str) -> Result<bool, StoreError> {
    Ok(table.get(key).map_err(unavailable)?.is_some())
}

/// The keys (after the prefix) and items of one integration's range, in key order.
fn scan<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    integration: &str,
) -> Result<Vec<(String, T)>, StoreError> {
    let (start, end) = range_of(integration);
    let mut items = Vec::new();
    for entry in table.range(start.as_str()..end.as_str()).map_err(unavailable)? {
        let (key, value) = entry.map_err(unavailable)?;
        let suffix = key.value()[start.len()..].to_string();
        items.push((suffix, decode(value.value())?));
    }
    Ok(items)
}

/// The key suffixes of one integration's range (index tables, whose values are empty).
fn scan_keys(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    integration: &str,
) -> Result<Vec<String>, StoreError> {
    let (start, end) = range_of(integration);
    let mut keys = Vec::new();
    for entry in table.range(start.as_str()..end.as_str()).map_err(unavailable)? {
        let (key, _) = entry.map_err(unavailable)?;
        keys.push(key.value()[start.len()..].to_string());
    }
    Ok(keys)
}

/// Removes one integration's whole range.
fn remove_range(table: &mut Table<&'static str, &'static [u8]>, integration: &str) -> Result<(), StoreError> {
    let (start, end) = range_of(integration);
    table
        .retain_in(start.as_str()..end.as_str(), |_, _| false)
        .map_err(unavailable)
}

/// The bounds of the keys `{integration}\0…`.
fn range_of(integration: &str) -> (String, String) {
    (format!("{integration}\0"), format!("{integration}\u{1}"))
}

/// `{integration}\0{rest}`.
fn under(integration: &IntegrationId, rest: &str) -> String {
    format!("{integration}\0{rest}")
}

/// `{integration}\0{project:020}`: projects in numeric order.
fn project_key(integration: &IntegrationId, project: ProjectId) -> String {
    format!("{integration}\0{:020}", project.get())
}

/// An empty value, for index entries.
const NOTHING: &[u8] = &[];
