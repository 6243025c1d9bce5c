//! What each function may do in AWS, in IAM's terms: the table, the master key, and the
//! integrations' credentials in Secrets Manager.

/// What a function does with the table, in IAM's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableUse {
    /// GetItem, Query, BatchGetItem.
    pub read: bool,
    /// PutItem, UpdateItem, ConditionCheckItem (alone or in a transaction).
    pub write: bool,
    /// DeleteItem (alone or in a transaction).
    pub delete: bool,
    /// BatchWriteItem (many puts or deletes in one call).
    pub batch_write: bool,
}

pub(crate) const NO_TABLE: TableUse = TableUse {
    read: false,
    write: false,
    delete: false,
    batch_write: false,
};
pub(crate) const TABLE_READ: TableUse = TableUse { read: true, ..NO_TABLE };
pub(crate) const TABLE_WRITE: TableUse = TableUse {
    write: true,
    ..TABLE_READ
};

impl TableUse {
    /// The same, for a function that deletes single items.
    pub(crate) const fn deleting(self) -> TableUse {
        TableUse { delete: true, ..self }
    }

    /// The same, for a function that writes many items at once.
    pub(crate) const fn batch_writing(self) -> TableUse {
        TableUse {
            batch_write: true,
            ..self
        }
    }
}

/// What a function does with integrations' credentials in Secrets Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialUse {
    Read,
    Write,
    Create,
    Delete,
}

/// A function's AWS permissions. Routes that need a caller read the caller-token key as well.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub table: TableUse,
    /// Reads the master key (webhook signing keys, PKCE verifiers).
    pub master_key: bool,
    pub credentials: &'static [CredentialUse],
    /// Starts repository syncs: sends jobs to the sync queue.
    pub sync_queue: bool,
}

pub(crate) const fn needs(table: TableUse, master_key: bool, credentials: &'static [CredentialUse]) -> Needs {
    Needs {
        table,
        master_key,
        credentials,
        sync_queue: false,
    }
}

impl Needs {
    /// The same, for a function that starts repository syncs.
    pub(crate) const fn starting_syncs(self) -> Needs {
        Needs {
            sync_queue: true,
            ..self
        }
    }
}

use CredentialUse::{Read as CredRead, Write as CredWrite};

/// Any handler that calls GitLab with an OAuth token may refresh it: read, then write the pair.
pub(crate) const REFRESHES: &[CredentialUse] = &[CredRead, CredWrite];
