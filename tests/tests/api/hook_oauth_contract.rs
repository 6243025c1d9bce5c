//! The contract of the hook store and of the OAuth state store, on the in-memory adapters, the
//! local runner's durable ones and DynamoDB on moto.

use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::records::{record, repo};
use shared::domain::delivery::{DeliveryOutcome, DeliveryRecord};
use shared::domain::hooks::HookHealth;
use shared::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use shared::domain::oauth::PendingAuthorization;
use shared::ports::{HookStore, IntegrationStore, OAuthStateStore, RepositoryStore, StoreError, WebhookStore};

fn push(integration: &IntegrationId, project: u64, at: i64) -> DeliveryRecord {
    DeliveryRecord {
        id: uuid::Uuid::new_v4().to_string(),
        integration_id: integration.clone(),
        delivery_key: format!("key-{project}-{at}"),
        event: "push".into(),
        project_id: Some(ProjectId(project)),
        repository_id: Some(RepositoryId::derive(integration, ProjectId(project))),
        outcome: DeliveryOutcome::Ignored,
        reason: None,
        trigger_id: None,
        received_at: at,
        expires_at: at + 86_400,
    }
}

async fn hook_contract<S: IntegrationStore + RepositoryStore + HookStore + WebhookStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store.create_integration(&record(&a), None, None).await.unwrap();
    store
        .write_repositories(&a, &[repo(&a, 1), repo(&a, 2), repo(&a, 3)], &[])
        .await
        .unwrap();
    store.put_hook(&a, ProjectId(1), 501).await.unwrap();
    store.put_hook(&a, ProjectId(2), 502).await.unwrap();
    // A delivery's time is noted on the project's hook record, when we registered one.
    store.record_delivery(&push(&a, 1, 1000), None).await.unwrap();
    store.note_delivery(&a, ProjectId(1), 1000).await.unwrap();
    store.note_delivery(&a, ProjectId(3), 1001).await.unwrap();

    let mut listed = store.list_hooks(&a).await.unwrap();
    listed.sort_by_key(|h| h.project_id);
    assert_eq!(
        listed
            .iter()
            .map(|h| (h.project_id.get(), h.hook_id))
            .collect::<Vec<_>>(),
        vec![(1, Some(501)), (2, Some(502))],
        "only registered hooks are listed"
    );
    assert_eq!(listed[0].last_delivery_at, Some(1000));
    let got = store
        .get_hooks(&a, &[ProjectId(1), ProjectId(3), ProjectId(99)])
        .await
        .unwrap();
    assert_eq!(got.iter().map(|h| h.project_id.get()).collect::<Vec<_>>(), vec![1]);

    // Health is recorded on registered hooks only.
    let health = HookHealth {
        alert_status: Some("temporarily_disabled".into()),
        disabled_until: Some("2026-11-28T10:00:00.000Z".into()),
        checked_at: 1100,
    };
    store.set_hook_health(&a, ProjectId(1), &health).await.unwrap();
    store.set_hook_health(&a, ProjectId(3), &health).await.unwrap();
    let first = &store.get_hooks(&a, &[ProjectId(1)]).await.unwrap()[0];
    assert_eq!(
        (
            first.alert_status.as_deref(),
            first.disabled_until.as_deref(),
            first.checked_at,
            first.last_delivery_at
        ),
        (
            Some("temporarily_disabled"),
            Some("2026-11-28T10:00:00.000Z"),
            Some(1100),
            Some(1000)
        ),
        "health joins what was known"
    );
    assert!(store.get_hooks(&a, &[ProjectId(3)]).await.unwrap().is_empty());
    let healthy = HookHealth {
        alert_status: Some("executable".into()),
        disabled_until: None,
        checked_at: 1200,
    };
    store.set_hook_health(&a, ProjectId(1), &healthy).await.unwrap();
    let first = &store.get_hooks(&a, &[ProjectId(1)]).await.unwrap()[0];
    assert_eq!(
        (first.alert_status.as_deref(), first.disabled_until.as_deref()),
        (Some("executable"), None),
        "a cleared field is cleared"
    );

    // Removing forgets the hook; a removed repository takes its record along.
    store.remove_hook(&a, ProjectId(1)).await.unwrap();
    store.write_repositories(&a, &[], &[repo(&a, 2)]).await.unwrap();
    assert!(store.list_hooks(&a).await.unwrap().is_empty());
    store.put_hook(&a, ProjectId(1), 601).await.unwrap();
    let again = &store.list_hooks(&a).await.unwrap()[0];
    assert_eq!(
        (again.hook_id, again.alert_status.clone(), again.last_delivery_at),
        (Some(601), None, Some(1000)),
        "a hook registered again starts without the old health but keeps the last delivery"
    );

    store.delete_integration(&a).await.unwrap();
    assert!(store.list_hooks(&a).await.unwrap().is_empty());
}

fn pending(digest: &str, integration: &IntegrationId) -> PendingAuthorization {
    PendingAuthorization {
        state_digest: digest.into(),
        integration_id: integration.clone(),
        requested_by: "user-1".into(),
        redirect_url: "https://ui.example.com/settings".into(),
        created_at: 100,
        expires_at: 700,
    }
}

async fn oauth_state_contract<S: OAuthStateStore + 'static>(store: std::sync::Arc<S>) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    let digest = format!("digest-{}", uuid::Uuid::new_v4().simple());
    let state = pending(&digest, &a);
    store.put_oauth_state(&state).await.unwrap();
    assert!(matches!(store.put_oauth_state(&state).await, Err(StoreError::Conflict)));
    // Of many callers presenting the same state at once, one gets it.
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let (store, digest) = (store.clone(), digest.clone());
            tokio::spawn(async move { store.take_oauth_state(&digest).await.unwrap() })
        })
        .collect();
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap());
    }
    assert_eq!(taken, vec![state], "a state is used once");
    assert_eq!(store.take_oauth_state(&digest).await.unwrap(), None);
}

on_backends!(store hook_contract: memory, embedded, moto);

on_backends!(shared_store oauth_state_contract: memory(multi_thread), embedded(multi_thread), moto(multi_thread));
