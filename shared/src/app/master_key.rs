//! The service's master key, from which webhook signing keys and OAuth PKCE verifiers derive.

use secrecy::SecretString;

use crate::app::Services;
use crate::domain::secrets::{WeakKey, require_strong_key};
use crate::ports::VaultError;

/// Why the service's master key cannot be read.
///
/// # Errors
/// - `NotConfigured`: the vault has no master key (a deployment fault).
/// - `Weak`: the stored master key is shorter than 32 bytes (a deployment fault); nothing is
///   derived from it.
/// - `Vault`: the vault failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the service's master key is not configured")]
    NotConfigured,
    #[error(transparent)]
    Weak(#[from] WeakKey),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The master key webhook signing keys and PKCE verifiers derive from (cached vault read).
pub async fn master_key(services: &Services) -> Result<SecretString, MasterKeyError> {
    let key = services
        .vault
        .get_secret(&services.config.master_key_secret_id)
        .await?
        .ok_or_else(|| {
            tracing::error!("the master key is missing from the vault");
            MasterKeyError::NotConfigured
        })?;
    require_strong_key("master key", &key)
        .inspect_err(|err| tracing::error!(error = %err, "refusing the master key"))?;
    Ok(key)
}
