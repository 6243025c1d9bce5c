//! The in-memory vault: secret values in memory, kept as `SecretString` so they never print.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::secrets::copy_secret;
use crate::ports::{SecretVault, VaultError};

/// Secrets in memory. Values are kept as `SecretString`, so they never print.
#[derive(Default)]
pub struct MemoryVault {
    secrets: Mutex<HashMap<String, SecretString>>,
}

impl MemoryVault {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        self.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SecretVault for MemoryVault {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let mut s = self.lock();
        if s.contains_key(name) {
            return Err(VaultError::Exists);
        }
        s.insert(name.to_string(), copy_secret(value));
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        Ok(self.lock().get(name).map(copy_secret))
    }

    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let mut s = self.lock();
        match s.get_mut(name) {
            Some(slot) => {
                *slot = copy_secret(value);
                Ok(())
            }
            None => Err(VaultError::NotFound),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), VaultError> {
        self.lock().remove(name);
        Ok(())
    }
}
