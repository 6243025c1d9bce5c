//! One contract for every store and vault adapter, run against the embedded ones and against
//! the real AWS SDK talking to moto.

use std::time::Duration;

use oore_gitlab_tests::{moto_sdk, moto_table};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::memory::{MemoryStore, MemoryVault};
use shared::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use shared::domain::host::{HostPolicy, HostUrl};
use shared::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus, Repository};
use shared::ports::{IntegrationStore, RepositoryStore, SecretVault, StoreError, VaultError};

fn record(id: &str) -> IntegrationRecord {
    IntegrationRecord {
        id: id.into(),
        host_url: HostUrl::parse("https://gitlab.example.com/gitlab", &HostPolicy::default()).unwrap(),
        auth_mode: AuthMode::PersonalToken,
        status: IntegrationStatus::Active,
        display_name: Some(format!("Integration {id}")),
        created_by: "user-1".into(),
        created_at: 100,
        updated_at: 100,
        gitlab_user_id: Some(7),
        token_expires_at: None,
        webhook_secret_sha256: Some("ab".repeat(32)),
        last_webhook_at: None,
    }
}

fn installation(integration: &str, id: &str) -> Installation {
    Installation {
        id: id.into(),
        integration_id: integration.into(),
        external_id: "john_smith".into(),
        account_name: "john_smith".into(),
        account_type: Some("user".into()),
        created_at: 100,
    }
}

fn repo(integration: &str, project: u64) -> Repository {
    let external_id = project.to_string();
    Repository {
        id: Repository::id_for(integration, &external_id),
        integration_id: integration.into(),
        installation_id: "inst-1".into(),
        external_id,
        full_name: format!("group/project-{project}"),
        default_branch: Some("main".into()),
        is_private: project % 2 == 0,
        avatar_url: None,
        created_at: 100,
        updated_at: 100,
    }
}

async fn store_contract<S: IntegrationStore + RepositoryStore>(store: &S) {
    let a = format!("int-{}", uuid::Uuid::new_v4());
    let b = format!("int-{}", uuid::Uuid::new_v4());

    // Create with installation; a second create of the same id loses.
    store.create_integration(&record(&a), Some(&installation(&a, "inst-1"))).await.unwrap();
    store.create_integration(&record(&b), None).await.unwrap();
    assert!(matches!(store.create_integration(&record(&a), None).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_integration(&a).await.unwrap(), Some(record(&a)));
    assert_eq!(store.get_integration("missing").await.unwrap(), None);
    let mut ids: Vec<_> = store.list_integrations().await.unwrap().into_iter().map(|r| r.id).collect();
    ids.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // Update only what exists.
    let mut changed = record(&a);
    changed.status = IntegrationStatus::Error;
    changed.token_expires_at = Some(999);
    store.update_integration(&changed).await.unwrap();
    assert_eq!(store.get_integration(&a).await.unwrap(), Some(changed));
    assert!(matches!(store.update_integration(&record("missing")).await, Err(StoreError::Conflict)));

    // Installations.
    store.put_installation(&installation(&a, "inst-2")).await.unwrap();
    let mut insts: Vec<_> = store.list_installations(&a).await.unwrap().into_iter().map(|i| i.id).collect();
    insts.sort();
    assert_eq!(insts, vec!["inst-1", "inst-2"]);
    assert!(store.list_installations(&b).await.unwrap().is_empty());

    // Repositories: more than one BatchWrite chunk, lookup by id, removals, no bleed between integrations.
    let repos: Vec<_> = (1..=60).map(|p| repo(&a, p)).collect();
    store.write_repositories(&a, &repos, &[]).await.unwrap();
    store.write_repositories(&b, &[repo(&b, 1)], &[]).await.unwrap();
    assert_eq!(store.list_repositories(&a).await.unwrap().len(), 60);
    assert_eq!(store.list_repositories(&b).await.unwrap().len(), 1);
    let wanted = repo(&a, 42);
    assert_eq!(store.get_repository(&wanted.id).await.unwrap(), Some(wanted.clone()));
    assert_eq!(store.get_repository("nope").await.unwrap(), None);
    let mut renamed = repo(&a, 1);
    renamed.full_name = "group/renamed".into();
    store.write_repositories(&a, &[renamed.clone()], &repos[40..].to_vec()).await.unwrap();
    let left = store.list_repositories(&a).await.unwrap();
    assert_eq!(left.len(), 40);
    assert!(left.contains(&renamed));
    assert_eq!(store.get_repository(&wanted.id).await.unwrap(), None, "a removed repository is gone from the index too");

    // Delete takes everything under the integration and nothing else; repeating is harmless.
    store.delete_integration(&a).await.unwrap();
    store.delete_integration(&a).await.unwrap();
    assert_eq!(store.get_integration(&a).await.unwrap(), None);
    assert!(store.list_installations(&a).await.unwrap().is_empty());
    assert!(store.list_repositories(&a).await.unwrap().is_empty());
    assert_eq!(store.get_repository(&repo(&a, 2).id).await.unwrap(), None);
    assert_eq!(store.list_repositories(&b).await.unwrap().len(), 1);
    assert_eq!(store.list_integrations().await.unwrap().len(), 1);
}

async fn vault_contract<V: SecretVault>(vault: &V) {
    let name = format!("contract-{}/integration/x", uuid::Uuid::new_v4().simple());
    let v1 = SecretString::from(r#"{"access_token":"glpat-one"}"#.to_string());
    let v2 = SecretString::from(r#"{"access_token":"glpat-two"}"#.to_string());
    assert!(vault.get_secret(&name).await.unwrap().is_none());
    assert!(matches!(vault.put_secret(&name, &v1).await, Err(VaultError::NotFound)));
    vault.create_secret(&name, &v1).await.unwrap();
    assert!(matches!(vault.create_secret(&name, &v2).await, Err(VaultError::Exists)));
    assert_eq!(vault.get_secret(&name).await.unwrap().unwrap().expose_secret(), v1.expose_secret());
    vault.put_secret(&name, &v2).await.unwrap();
    assert_eq!(vault.get_secret(&name).await.unwrap().unwrap().expose_secret(), v2.expose_secret());
    vault.delete_secret(&name).await.unwrap();
    assert!(vault.get_secret(&name).await.unwrap().is_none());
    vault.delete_secret(&name).await.unwrap();
    // Deleted without a recovery window: the name can be used again at once.
    vault.create_secret(&name, &v1).await.unwrap();
    vault.delete_secret(&name).await.unwrap();
}

#[tokio::test]
async fn embedded_store_keeps_the_contract() {
    store_contract(&MemoryStore::default()).await;
}

#[tokio::test]
async fn dynamodb_store_keeps_the_contract_on_moto() {
    let sdk = moto_sdk().await;
    let table = moto_table(&sdk).await;
    store_contract(&DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table)).await;
}

#[tokio::test]
async fn embedded_vault_keeps_the_contract() {
    vault_contract(&MemoryVault::default()).await;
}

#[tokio::test]
async fn secrets_manager_vault_keeps_the_contract_on_moto() {
    let sdk = moto_sdk().await;
    vault_contract(&SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk))).await;
}

#[tokio::test]
async fn cached_vault_keeps_the_contract_on_moto() {
    let sdk = moto_sdk().await;
    vault_contract(&CachedVault::new(SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk)), Duration::from_secs(60))).await;
}
