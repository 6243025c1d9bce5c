//! The vault contract on every vault adapter, and the Lambda settings that reach DynamoDB and
//! Secrets Manager from the environment.

use crate::store_contract::store_contract;
use oore_gitlab_tests::{local_data, moto_sdk, moto_table};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::memory::MemoryVault;
use shared::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use shared::ports::{SecretVault, VaultError};
use std::time::Duration;

async fn vault_contract<V: SecretVault>(vault: &V) {
    let name = format!("contract-{}/integration/x", uuid::Uuid::new_v4().simple());
    let v1 = SecretString::from(r#"{"access_token":"glpat-one"}"#.to_string());
    let v2 = SecretString::from(r#"{"access_token":"glpat-two"}"#.to_string());
    assert!(vault.get_secret(&name).await.unwrap().is_none());
    assert!(matches!(vault.put_secret(&name, &v1).await, Err(VaultError::NotFound)));
    vault.create_secret(&name, &v1).await.unwrap();
    assert!(matches!(vault.create_secret(&name, &v2).await, Err(VaultError::Exists)));
    assert_eq!(
        vault.get_secret(&name).await.unwrap().unwrap().expose_secret(),
        v1.expose_secret()
    );
    vault.put_secret(&name, &v2).await.unwrap();
    assert_eq!(
        vault.get_secret(&name).await.unwrap().unwrap().expose_secret(),
        v2.expose_secret()
    );
    vault.delete_secret(&name).await.unwrap();
    assert!(vault.get_secret(&name).await.unwrap().is_none());
    vault.delete_secret(&name).await.unwrap();
    // Deleted without a recovery window: the name can be used again at once.
    vault.create_secret(&name, &v1).await.unwrap();
    vault.delete_secret(&name).await.unwrap();
}

#[tokio::test]
async fn memory_vault_keeps_the_contract() {
    vault_contract(&MemoryVault::default()).await;
}

#[tokio::test]
async fn embedded_vault_keeps_the_contract() {
    let (_dir, data) = local_data();
    vault_contract(&data.vault).await;
}

#[tokio::test]
async fn secrets_manager_vault_keeps_the_contract_on_moto() {
    let sdk = moto_sdk().await;
    vault_contract(&SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk))).await;
}

#[tokio::test]
async fn cached_vault_keeps_the_contract_on_moto() {
    let sdk = moto_sdk().await;
    vault_contract(&CachedVault::new(
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk)),
        Duration::from_secs(60),
    ))
    .await;
}

/// A function in Lambda configures the SDK from the environment alone (region, credentials and,
/// here, moto's endpoint): the same settings must reach both services.
#[tokio::test]
async fn lambda_settings_reach_dynamodb_and_secrets_manager_from_the_environment_on_moto() {
    let sdk = shared::adapters::sdk_settings::lambda_config_loader().load().await;
    assert_eq!(
        sdk.region().map(|r| r.as_ref()),
        std::env::var("AWS_REGION").ok().as_deref()
    );
    let table = moto_table(&moto_sdk().await).await;
    store_contract(&DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table)).await;
    vault_contract(&SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk))).await;
}
