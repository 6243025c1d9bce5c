//! Builders for tests and benches only: the application in memory, and on AWS with a counter
//! on its clients.

use std::sync::Arc;

use secrecy::SecretString;

use crate::adapters::aws_calls::AwsCallCounter;
use crate::adapters::memory::{MemoryStore, MemoryVault};
use crate::config::Config;
use crate::inbound::http::App;
use crate::ports::{Clock, GitLabApi, SecretVault, VaultError};
use crate::wiring::{AwsClients, Backends, Handoff, assemble};

/// The application on DynamoDB and Secrets Manager as a Lambda runs it, with a counter on both
/// AWS clients, for the tests and benches that hold a request path to its budget of AWS calls.
pub fn aws_app_counted(
    sdk: &aws_config::SdkConfig,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> (App, AwsCallCounter) {
    let counter = AwsCallCounter::default();
    let mut clients = AwsClients::new(sdk, &config);
    clients.dynamodb = clients
        .dynamodb
        .interceptor(counter.dynamodb_interceptor())
        .interceptor(counter.dynamodb_bytes_interceptor())
        .interceptor(counter.capacity());
    clients.secrets = clients.secrets.interceptor(counter.secrets_manager_interceptor());
    let app = assemble(config, clients.backends(gitlab, clock, Handoff::Stream));
    (app, counter)
}

/// The application on the in-memory store and vault, with the caller-token key placed in the
/// vault and a webhook master key made for this process. Triggers are handed off in process.
///
/// # Errors
/// Never on a fresh vault; the result keeps the vault's contract.
pub async fn memory_app(
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    signing_key: &SecretString,
) -> Result<App, VaultError> {
    let vault = Arc::new(MemoryVault::default());
    vault.create_secret(&config.caller_key_secret_id, signing_key).await?;
    vault
        .create_secret(
            &config.master_key_secret_id,
            &crate::domain::secrets::generate_master_key(),
        )
        .await?;
    let backends = Backends {
        store: Arc::new(MemoryStore::default()),
        vault,
        gitlab,
        clock,
        sync_queue: None,
        handoff: Handoff::InProcess,
    };
    Ok(assemble(config, backends))
}
