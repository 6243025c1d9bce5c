//! The webhook store's contract: keys, the delivery log and its dedupe markers.

use crate::store_contract::of;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::records::{delivery, record, repo, trigger};
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::webhook_keys::WebhookKey;
use shared::ports::{IntegrationStore, Recorded, RepositoryStore, StoreError, TriggerStore, WebhookStore};

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

    // Deliveries: one record per build, whatever its delivery key; one per key otherwise.
    store.write_repositories(&a, &[repo(&a, 1)], &[]).await.unwrap();
    let t = trigger(&a, "idem-1", 1000);
    let mut first_delivery = delivery(&a, "idem-1", 1000, DeliveryOutcome::Triggered);
    first_delivery.trigger_id = Some(t.id.clone());
    assert_eq!(
        store.record_delivery(&first_delivery, Some(&t)).await.unwrap(),
        Recorded::New
    );
    let again = delivery(&a, "idem-1", 1001, DeliveryOutcome::Triggered);
    assert_eq!(
        store
            .record_delivery(&again, Some(&trigger(&a, "idem-1", 1001)))
            .await
            .unwrap(),
        Recorded::Duplicate
    );
    // The same build through another hook (another delivery key) is the same delivery.
    let mut through_another_hook = trigger(&a, "idem-1", 1002);
    through_another_hook.delivery_key = "group-hook-key".into();
    assert_eq!(
        store
            .record_delivery(
                &delivery(&a, "group-hook-key", 1002, DeliveryOutcome::Triggered),
                Some(&through_another_hook)
            )
            .await
            .unwrap(),
        Recorded::Duplicate
    );
    assert_eq!(store.list_triggers(&of(&a), None, 100).await.unwrap(), vec![t.clone()]);
    let ignored = delivery(&a, "idem-2", 1003, DeliveryOutcome::Ignored);
    assert_eq!(store.record_delivery(&ignored, None).await.unwrap(), Recorded::New);
    assert_eq!(
        store.record_delivery(&ignored, None).await.unwrap(),
        Recorded::Duplicate
    );
    // The same key under another integration is another delivery.
    assert_eq!(
        store
            .record_delivery(&delivery(&b, "idem-1", 1000, DeliveryOutcome::Ignored), None)
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
    assert_eq!(
        rest.iter().map(|d| (d.received_at, d.outcome)).collect::<Vec<_>>(),
        vec![
            (1100, DeliveryOutcome::Duplicate),
            (1003, DeliveryOutcome::Ignored),
            (1000, DeliveryOutcome::Triggered)
        ]
    );
    assert_eq!(
        rest[2].trigger_id.as_ref(),
        Some(&t.id),
        "the build's entry names its trigger"
    );
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

on_backends!(store webhook_contract: memory, embedded, moto);
