//! The local vault: secret values sealed with AES-256-GCM (aws-lc-rs) in the store's file, under
//! a key kept in a file of its own beside it, readable by this user only.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use rand::RngCore;
use redb::ReadableTableMetadata;
use secrecy::{ExposeSecret, SecretString};

use crate::adapters::embedded::{EmbeddedStore, OpenError, SECRETS, exists, remove, unavailable};
use crate::ports::{SecretVault, StoreError, VaultError};

/// The vault key's file inside the data folder.
pub const VAULT_KEY_FILE: &str = "vault.key";

/// The first byte of every sealed value: the format, so another can follow.
const FORMAT: u8 = 1;

/// Secrets sealed at rest. Each value is bound to its name (the name is the sealing's
/// associated data), so values moved between names do not open.
#[derive(Clone)]
pub struct EncryptedVault {
    store: EmbeddedStore,
    key: Arc<RandomizedNonceKey>,
}

impl EncryptedVault {
    /// The vault of `store`, with its key read from `dir` or, for a store that holds no secret
    /// yet, made there.
    pub(super) fn open(store: EmbeddedStore, dir: &Path) -> Result<EncryptedVault, OpenError> {
        let path = dir.join(VAULT_KEY_FILE);
        let key_bytes = if path.exists() {
            read_key(&path)?
        } else {
            let holds_secrets = store
                .read(|txn| {
                    let table = txn.open_table(SECRETS).map_err(unavailable)?;
                    Ok(!table.is_empty().map_err(unavailable)?)
                })
                .map_err(|e| OpenError::Vault(e.to_string()))?;
            if holds_secrets {
                return Err(OpenError::Vault(format!(
                    "the vault key {} is missing, and the store holds secrets sealed with it: put the key file back, or start over with an empty data folder",
                    path.display()
                )));
            }
            make_key(&path)?
        };
        let key = RandomizedNonceKey::new(&AES_256_GCM, &key_bytes)
            .map_err(|_| OpenError::Vault(format!("the vault key {} is not a 256-bit key", path.display())))?;
        Ok(EncryptedVault {
            store,
            key: Arc::new(key),
        })
    }

    fn seal(&self, name: &str, value: &SecretString) -> Result<Vec<u8>, VaultError> {
        let mut sealed = value.expose_secret().as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(name.as_bytes()), &mut sealed)
            .map_err(|_| VaultError::Unavailable("a secret could not be sealed".into()))?;
        let mut stored = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        stored.push(FORMAT);
        stored.extend_from_slice(nonce.as_ref());
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    fn open_sealed(&self, name: &str, stored: &[u8]) -> Result<SecretString, VaultError> {
        let refused = || VaultError::Unavailable(format!("the stored secret {name} does not open with the vault key"));
        let (format, rest) = stored.split_first().ok_or_else(refused)?;
        if *format != FORMAT || rest.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        // Wiped when dropped: after opening, it holds the secret in clear.
        let mut buffer = secrecy::zeroize::Zeroizing::new(sealed.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buffer)
            .map_err(|_| refused())?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| refused())?;
        Ok(SecretString::from(text))
    }

    /// Seals `value` and stores it under `name`, which must already hold a secret when
    /// `replace` is set and must not otherwise; `refused` when it does not hold.
    async fn store_sealed(
        &self,
        name: &str,
        value: &SecretString,
        replace: bool,
        refused: VaultError,
    ) -> Result<(), VaultError> {
        let sealed = self.seal(name, value)?;
        let name = name.to_string();
        self.store
            .write(move |txn| {
                let mut secrets = txn.open_table(SECRETS).map_err(unavailable)?;
                if exists(&secrets, &name)? != replace {
                    return Err(StoreError::Conflict);
                }
                secrets.insert(name.as_str(), sealed.as_slice()).map_err(unavailable)?;
                Ok(())
            })
            .await
            .map_err(|err| match err {
                StoreError::Conflict => refused,
                other => vault_error(other),
            })
    }
}

/// Reads the key file, tightening its mode if someone loosened it.
fn read_key(path: &Path) -> Result<Vec<u8>, OpenError> {
    let unreadable = |why: String| OpenError::Vault(format!("the vault key {} {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(format!("cannot be read: {e}")))?;
    let bytes = hex::decode(text.trim()).map_err(|_| unreadable("is not hex".into()))?;
    if bytes.len() != 32 {
        return Err(unreadable(format!("holds {} bytes, not 32", bytes.len())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| unreadable(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the vault key was readable by others; its mode is now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| unreadable(e.to_string()))?;
        }
    }
    Ok(bytes)
}

/// Makes a new random key file, mode 0600 from its first byte on.
fn make_key(path: &Path) -> Result<Vec<u8>, OpenError> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let failed = |e: std::io::Error| OpenError::Vault(format!("the vault key {} cannot be made: {e}", path.display()));
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(format!("{}\n", hex::encode(&bytes)).as_bytes())
        .map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(bytes)
}

fn vault_error(err: StoreError) -> VaultError {
    VaultError::Unavailable(err.to_string())
}

#[async_trait]
impl SecretVault for EncryptedVault {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        self.store_sealed(name, value, false, VaultError::Exists).await
    }

    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        let stored = self
            .store
            .read(|txn| {
                let secrets = txn.open_table(SECRETS).map_err(unavailable)?;
                Ok(secrets.get(name).map_err(unavailable)?.map(|v| v.value().to_vec()))
            })
            .map_err(vault_error)?;
        stored.map(|bytes| self.open_sealed(name, &bytes)).transpose()
    }

    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        self.store_sealed(name, value, true, VaultError::NotFound).await
    }

    async fn delete_secret(&self, name: &str) -> Result<(), VaultError> {
        let name = name.to_string();
        self.store
            .write(move |txn| remove(&mut txn.open_table(SECRETS).map_err(unavailable)?, &name))
            .await
            .map_err(vault_error)
    }
}
