//! One contract for every store and vault adapter, run against the in-memory ones, the local
//! runner's durable ones (on a data folder of their own) and the real AWS SDK talking to moto.
//! The integration store's contract here; the others in their own modules.

mod name_index;
mod triggers;
mod vaults;
mod webhooks;

use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::records::{installation, record, repo};
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::integration::{IntegrationRecord, IntegrationStatus};
use shared::ports::{IntegrationStore, RefreshOutcome, RepositoryStore, StoreError, TriggerFilter};

pub(crate) async fn store_contract<S: IntegrationStore + RepositoryStore>(store: &S) {
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

pub(crate) fn of(integration: &IntegrationId) -> TriggerFilter {
    TriggerFilter {
        status: None,
        integration_id: Some(integration.clone()),
    }
}

on_backends!(store store_contract: memory, embedded, moto);
