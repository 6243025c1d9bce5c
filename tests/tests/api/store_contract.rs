//! One contract for every store and vault adapter, run against the in-memory ones, the local
//! runner's durable ones (on a data folder of their own) and the real AWS SDK talking to moto.

use oore_gitlab_tests::on_backends;
use std::time::Duration;

use oore_gitlab_tests::records::{delivery, installation, record, repo, trigger};
use oore_gitlab_tests::{local_data, moto_sdk, moto_table};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::memory::MemoryVault;
use shared::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::integration::{IntegrationRecord, IntegrationStatus};
use shared::domain::sync::{IdSlice, SyncRecord};
use shared::domain::trigger::{ReportedState, TriggerStatus};
use shared::domain::webhook_keys::WebhookKey;
use shared::ports::{
    IntegrationStore, Recorded, RefreshOutcome, RepositoryStore, SecretVault, StoreError, SyncStore, TriggerFilter,
    TriggerStore, VaultError, WebhookStore,
};

async fn store_contract<S: IntegrationStore + RepositoryStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    let b = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));

    // Create with installation; a second create of the same id loses.
    store
        .create_integration(&record(&a), Some(&installation(&a, "inst-1")), None)
        .await
        .unwrap();
    store.create_integration(&record(&b), None, None).await.unwrap();
    assert!(matches!(
        store.create_integration(&record(&a), None, None).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get_integration(&a).await.unwrap(), Some(record(&a)));
    assert_eq!(store.get_integration(&"missing".into()).await.unwrap(), None);
    let mut ids: Vec<_> = store
        .list_integrations()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // Update only what exists, and only from the version stored: a write from a stale read
    // cannot undo a change made meanwhile.
    let mut changed = record(&a);
    changed.status = IntegrationStatus::Error;
    changed.token_expires_at = Some(999);
    store.update_integration(&changed).await.unwrap();
    let stored = store.get_integration(&a).await.unwrap().unwrap();
    assert_eq!(stored.record_version, 1, "each write bumps the version");
    assert_eq!(
        stored,
        IntegrationRecord {
            record_version: 1,
            ..changed.clone()
        }
    );
    let mut stale = record(&a);
    stale.display_name = Some("stale".into());
    assert!(
        matches!(store.update_integration(&stale).await, Err(StoreError::Conflict)),
        "a write of version 0 over version 1 is refused"
    );
    let mut fresh = stored.clone();
    fresh.display_name = Some("renamed".into());
    store.update_integration(&fresh).await.unwrap();
    let stored = store.get_integration(&a).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.display_name.as_deref(), stored.record_version),
        (IntegrationStatus::Error, Some("renamed"), 2)
    );
    assert!(matches!(
        store.update_integration(&record(&"missing".into())).await,
        Err(StoreError::Conflict)
    ));

    // The refresh lease: one holder at a time until it runs out; only the holder completes, and
    // completing writes only the refresh's fields.
    let before_lease = store.get_integration(&b).await.unwrap().unwrap();
    assert!(store.acquire_refresh_lease(&b, "one", 1000, 1030).await.unwrap());
    assert!(
        !store.acquire_refresh_lease(&b, "two", 1010, 1040).await.unwrap(),
        "a held lease is not taken"
    );
    assert!(
        matches!(store.update_integration(&before_lease).await, Err(StoreError::Conflict)),
        "a write read before the lease cannot drop it"
    );
    let outcome = RefreshOutcome {
        status: IntegrationStatus::Active,
        token_expires_at: Some(8200),
        credentials_version: 4,
        updated_at: 1001,
    };
    assert!(matches!(
        store.complete_refresh(&b, "two", Some(&outcome)).await,
        Err(StoreError::Conflict)
    ));
    store.complete_refresh(&b, "one", Some(&outcome)).await.unwrap();
    let refreshed = store.get_integration(&b).await.unwrap().unwrap();
    assert_eq!(
        (
            refreshed.token_expires_at,
            refreshed.credentials_version,
            refreshed.updated_at,
            refreshed.refresh_lease_owner.as_deref(),
            refreshed.refresh_lease_until,
        ),
        (Some(8200), 4, 1001, None, None),
        "completing records the outcome and frees the lease"
    );
    assert_eq!(
        refreshed.display_name, before_lease.display_name,
        "the rest is left as it was"
    );
    assert!(refreshed.record_version > before_lease.record_version);
    assert!(store.acquire_refresh_lease(&b, "two", 1020, 1050).await.unwrap());
    assert!(
        store.acquire_refresh_lease(&b, "three", 1051, 1080).await.unwrap(),
        "an expired lease is taken over"
    );
    store.complete_refresh(&b, "three", None).await.unwrap();
    let released = store.get_integration(&b).await.unwrap().unwrap();
    assert_eq!(
        (released.refresh_lease_owner, released.token_expires_at),
        (None, Some(8200)),
        "a release without an outcome changes nothing else"
    );

    // Installations.
    store.put_installation(&installation(&a, "inst-2")).await.unwrap();
    let mut insts: Vec<_> = store
        .list_installations(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
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
    assert_eq!(store.get_repository(&"nope".into()).await.unwrap(), None);
    let mut renamed = repo(&a, 1);
    renamed.full_name = "group/renamed".into();
    store
        .write_repositories(&a, &[renamed.clone()], &repos[40..])
        .await
        .unwrap();
    let left = store.list_repositories(&a).await.unwrap();
    assert_eq!(left.len(), 40);
    assert!(left.contains(&renamed));
    assert_eq!(
        store.get_repository(&wanted.id).await.unwrap(),
        None,
        "a removed repository is gone from the index too"
    );

    // A page's repositories by project, and the ones no pass since a generation wrote.
    let mut page: Vec<_> = store
        .get_repositories(&a, &[ProjectId(2), ProjectId(3), ProjectId(999)])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.external_id)
        .collect();
    page.sort();
    assert_eq!(page, vec![ProjectId(2), ProjectId(3)], "missing projects are left out");
    let mut stale: Vec<_> = store
        .stale_repositories(&a, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.external_id.get())
        .collect();
    stale.sort();
    let mut expected_stale: Vec<u64> = left
        .iter()
        .filter(|r| r.sync_generation < 2)
        .map(|r| r.external_id.get())
        .collect();
    expected_stale.sort();
    assert_eq!(stale, expected_stale);

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

fn of(integration: &IntegrationId) -> TriggerFilter {
    TriggerFilter {
        status: None,
        integration_id: Some(integration.clone()),
    }
}

async fn webhook_contract<S: IntegrationStore + RepositoryStore + WebhookStore + TriggerStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    let b = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    let first = WebhookKey::issue(&a, None, 100).key;
    store.create_integration(&record(&a), None, Some(&first)).await.unwrap();
    store.create_integration(&record(&b), None, None).await.unwrap();
    assert_eq!(
        store.find_webhook_key(&first.digest).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.find_webhook_key("00").await.unwrap(), None);

    // Rotation: the previous key gets a grace end, keys past theirs are removed, scopes are separate.
    let second = WebhookKey::issue(&a, None, 200).key;
    store.rotate_webhook_key(&second, 300, 200).await.unwrap();
    let old = store
        .find_webhook_key(&first.digest)
        .await
        .unwrap()
        .expect("the previous key is kept for its grace");
    assert_eq!(old.valid_until, Some(300));
    let third = WebhookKey::issue(&a, None, 400).key;
    store.rotate_webhook_key(&third, 500, 400).await.unwrap();
    assert_eq!(
        store.find_webhook_key(&first.digest).await.unwrap(),
        None,
        "a key past its grace is removed on the next rotation"
    );
    assert_eq!(
        store
            .find_webhook_key(&second.digest)
            .await
            .unwrap()
            .unwrap()
            .valid_until,
        Some(500)
    );
    let project_key = WebhookKey::issue(&a, Some(ProjectId(1)), 400).key;
    store.rotate_webhook_key(&project_key, 500, 400).await.unwrap();
    assert_eq!(
        store.webhook_keys(&a, Some(ProjectId(1))).await.unwrap(),
        vec![project_key.clone()]
    );
    assert_eq!(store.webhook_keys(&a, None).await.unwrap().len(), 2);
    let orphan = WebhookKey::issue(&"missing".into(), None, 400).key;
    assert!(
        matches!(
            store.rotate_webhook_key(&orphan, 500, 400).await,
            Err(StoreError::Conflict)
        ),
        "no key for a deleted integration"
    );
    // Requiring signatures marks every key of the integration, and only its keys.
    store.set_signature_requirement(&a, true).await.unwrap();
    let marked = store.find_webhook_key(&project_key.digest).await.unwrap().unwrap();
    assert!(marked.require_signature);
    assert!(
        store
            .webhook_keys(&a, None)
            .await
            .unwrap()
            .iter()
            .all(|k| k.require_signature)
    );
    assert!(
        !store
            .webhook_keys(&b, None)
            .await
            .unwrap()
            .iter()
            .any(|k| k.require_signature)
    );
    store.set_signature_requirement(&a, false).await.unwrap();
    assert!(
        !store
            .find_webhook_key(&project_key.digest)
            .await
            .unwrap()
            .unwrap()
            .require_signature
    );

    // Deliveries: one record per key, a trigger only with its repository stored.
    let first_delivery = delivery(&a, "idem-1", 1000, DeliveryOutcome::Triggered);
    let t = trigger(&a, "idem-1", 1000);
    assert_eq!(
        store
            .record_delivery(&first_delivery, Some(&t), Some(ProjectId(1)))
            .await
            .unwrap(),
        Recorded::RepositoryMissing
    );
    assert!(
        store.list_triggers(&of(&a), None, 100).await.unwrap().is_empty(),
        "nothing is written when the repository is missing"
    );
    store.write_repositories(&a, &[repo(&a, 1)], &[]).await.unwrap();
    assert_eq!(
        store
            .record_delivery(&first_delivery, Some(&t), Some(ProjectId(1)))
            .await
            .unwrap(),
        Recorded::New
    );
    let again = delivery(&a, "idem-1", 1001, DeliveryOutcome::Triggered);
    assert_eq!(
        store
            .record_delivery(&again, Some(&trigger(&a, "idem-1", 1001)), Some(ProjectId(1)))
            .await
            .unwrap(),
        Recorded::Duplicate
    );
    assert_eq!(store.list_triggers(&of(&a), None, 100).await.unwrap(), vec![t]);
    // The same key under another integration is another delivery.
    assert_eq!(
        store
            .record_delivery(&delivery(&b, "idem-1", 1000, DeliveryOutcome::Ignored), None, None)
            .await
            .unwrap(),
        Recorded::New
    );

    // The log pages newest first.
    for i in 0..4 {
        store
            .log_delivery(&delivery(&a, &format!("dup-{i}"), 1100 + i, DeliveryOutcome::Duplicate))
            .await
            .unwrap();
    }
    let (page, cursor) = store.list_deliveries(&a, 3, None).await.unwrap();
    assert_eq!(
        page.iter().map(|d| d.received_at).collect::<Vec<_>>(),
        vec![1103, 1102, 1101]
    );
    let (rest, end) = store.list_deliveries(&a, 3, cursor.as_deref()).await.unwrap();
    assert_eq!(rest.iter().map(|d| d.received_at).collect::<Vec<_>>(), vec![1100, 1000]);
    assert_eq!(end, None);

    // Retiring takes the keys (and triggers) at once and leaves the log for the delete.
    store.retire_integration(&a).await.unwrap();
    assert_eq!(store.find_webhook_key(&second.digest).await.unwrap(), None);
    assert_eq!(store.find_webhook_key(&project_key.digest).await.unwrap(), None);
    assert!(store.list_triggers(&of(&a), None, 100).await.unwrap().is_empty());
    assert!(!store.list_deliveries(&a, 10, None).await.unwrap().0.is_empty());

    // Delete takes keys, log and triggers with the integration.
    store.delete_integration(&a).await.unwrap();
    assert_eq!(store.find_webhook_key(&second.digest).await.unwrap(), None);
    assert!(store.list_deliveries(&a, 10, None).await.unwrap().0.is_empty());
    assert!(store.list_triggers(&of(&a), None, 100).await.unwrap().is_empty());
    assert_eq!(store.list_deliveries(&b, 10, None).await.unwrap().0.len(), 1);
}

/// The trigger queue: by status and integration, oldest first, paged by position; one of two
/// writers from the same version wins.
async fn trigger_contract<S: IntegrationStore + RepositoryStore + WebhookStore + TriggerStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    let b = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store.create_integration(&record(&a), None, None).await.unwrap();
    store.create_integration(&record(&b), None, None).await.unwrap();
    store.write_repositories(&a, &[repo(&a, 1)], &[]).await.unwrap();
    store.write_repositories(&b, &[repo(&b, 1)], &[]).await.unwrap();
    let mut recorded = Vec::new();
    for (i, integration) in [&a, &b, &a, &a].into_iter().enumerate() {
        let t = trigger(integration, &format!("k{i}"), 2000 + i as i64);
        let d = delivery(
            integration,
            &format!("k{i}"),
            2000 + i as i64,
            DeliveryOutcome::Triggered,
        );
        assert_eq!(
            store.record_delivery(&d, Some(&t), Some(ProjectId(1))).await.unwrap(),
            Recorded::New
        );
        recorded.push(t);
    }
    assert_eq!(
        store.get_trigger(&recorded[1].id).await.unwrap().as_ref(),
        Some(&recorded[1])
    );
    assert_eq!(store.get_trigger(&"missing".into()).await.unwrap(), None);
    let of_a = store.list_triggers(&of(&a), None, 10).await.unwrap();
    assert_eq!(
        of_a,
        vec![recorded[0].clone(), recorded[2].clone(), recorded[3].clone()],
        "oldest first, one integration"
    );
    let page = store.list_triggers(&of(&a), None, 2).await.unwrap();
    let rest = store
        .list_triggers(&of(&a), Some(&page[1].queue_position()), 2)
        .await
        .unwrap();
    assert_eq!(rest, vec![recorded[3].clone()]);

    // Two claims made from the same version: one wins, the other is told it lost.
    let first = recorded[0].claimed("runner-1", 5000, 2100);
    let second = recorded[0].claimed("runner-2", 5000, 2100);
    store.update_trigger(&first).await.unwrap();
    assert!(matches!(store.update_trigger(&second).await, Err(StoreError::Conflict)));
    let queued = TriggerFilter {
        status: Some(TriggerStatus::Queued),
        integration_id: None,
    };
    let still_queued: Vec<_> = store
        .list_triggers(&queued, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(
        !still_queued.contains(&first.id) && still_queued.contains(&recorded[2].id),
        "a claimed trigger leaves the queue"
    );
    let claimed = TriggerFilter {
        status: Some(TriggerStatus::Claimed),
        integration_id: Some(a.clone()),
    };
    assert_eq!(
        store.list_triggers(&claimed, None, 10).await.unwrap(),
        vec![first.clone()]
    );
    let done = first.reported(ReportedState::Success, None, None, 0, 2200).unwrap();
    store.update_trigger(&done).await.unwrap();
    assert_eq!(
        store.get_trigger(&first.id).await.unwrap().unwrap().status,
        TriggerStatus::Success
    );
    assert!(
        matches!(
            store.update_trigger(&recorded[0].requeued(9)).await,
            Err(StoreError::Conflict)
        ),
        "a stale write loses"
    );

    // Deleting an integration takes its triggers and no others.
    store.delete_integration(&a).await.unwrap();
    assert!(store.list_triggers(&of(&a), None, 10).await.unwrap().is_empty());
    assert_eq!(store.get_trigger(&recorded[2].id).await.unwrap(), None);
    assert_eq!(
        store.list_triggers(&of(&b), None, 10).await.unwrap(),
        vec![recorded[1].clone()]
    );
}

/// Sync records: written only from the version read.
async fn sync_contract<S: IntegrationStore + SyncStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store.create_integration(&record(&a), None, None).await.unwrap();
    assert_eq!(store.get_sync(&a).await.unwrap(), None);
    let first = SyncRecord::next_pass(&a, None, 100);
    store.put_sync(&first).await.unwrap();
    assert!(
        matches!(store.put_sync(&first).await, Err(StoreError::Conflict)),
        "a second first pass loses"
    );
    assert_eq!(store.get_sync(&a).await.unwrap(), Some(first.clone()));
    let progressed = SyncRecord {
        repositories_seen: 300,
        remaining: Some(vec![IdSlice { after: 10, last: 90 }]),
        ..first.bumped()
    };
    let rival = SyncRecord {
        repositories_seen: 1,
        ..first.bumped()
    };
    store.put_sync(&progressed).await.unwrap();
    assert!(
        matches!(store.put_sync(&rival).await, Err(StoreError::Conflict)),
        "one of two writers from a version wins"
    );
    assert_eq!(store.get_sync(&a).await.unwrap(), Some(progressed));
    store.delete_integration(&a).await.unwrap();
    assert_eq!(
        store.get_sync(&a).await.unwrap(),
        None,
        "the record goes with its integration"
    );
}

on_backends!(store sync_contract: memory, embedded, moto);

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

on_backends!(store store_contract: memory, embedded, moto);

on_backends!(store webhook_contract: memory, embedded, moto);

on_backends!(store trigger_contract: memory, embedded, moto);

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

/// Finished work expires by the table's TTL: a trigger once final, a sync record once its pass
/// ended; a queued trigger and a running pass are kept.
#[tokio::test]
async fn finished_triggers_and_sync_records_carry_a_ttl_on_moto() {
    use shared::domain::sync::{FINISHED_SYNC_RETENTION_SECS, SyncRunState};
    use shared::domain::trigger::FINAL_TRIGGER_RETENTION_SECS;
    let sdk = moto_sdk().await;
    let table = moto_table(&sdk).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoStore::new(client.clone(), table.clone());
    let ttl_of = |pk: String, sk: &'static str| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
                .send()
                .await
                .unwrap()
                .item
                .expect("the item exists");
            item.get("ttl").map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store.create_integration(&record(&a), None, None).await.unwrap();
    store.write_repositories(&a, &[repo(&a, 1)], &[]).await.unwrap();
    let queued = trigger(&a, "ttl", 2000);
    let logged = delivery(&a, "ttl", 2000, DeliveryOutcome::Triggered);
    store
        .record_delivery(&logged, Some(&queued), Some(ProjectId(1)))
        .await
        .unwrap();
    let trigger_pk = format!("TRIGGER#{}", queued.id);
    assert_eq!(
        ttl_of(trigger_pk.clone(), "META").await,
        None,
        "a queued trigger is kept"
    );
    let claimed = queued.claimed("runner", 5000, 2100);
    store.update_trigger(&claimed).await.unwrap();
    let done = claimed.reported(ReportedState::Success, None, None, 0, 2200).unwrap();
    store.update_trigger(&done).await.unwrap();
    assert_eq!(
        ttl_of(trigger_pk, "META").await,
        Some(2200 + FINAL_TRIGGER_RETENTION_SECS)
    );

    let running = SyncRecord::next_pass(&a, None, 3000);
    store.put_sync(&running).await.unwrap();
    let sync_pk = format!("INTEGRATION#{a}");
    assert_eq!(ttl_of(sync_pk.clone(), "SYNC").await, None, "a running pass is kept");
    let finished = SyncRecord {
        state: SyncRunState::Succeeded,
        finished_at: Some(3100),
        ..running.bumped()
    };
    store.put_sync(&finished).await.unwrap();
    assert_eq!(ttl_of(sync_pk, "SYNC").await, Some(3100 + FINISHED_SYNC_RETENTION_SECS));
}
