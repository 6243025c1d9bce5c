//! The trigger and sync stores' contracts, and the TTL their finished items carry on DynamoDB.

use crate::store_contract::of;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::records::{delivery, record, repo, trigger};
use oore_gitlab_tests::{moto_sdk, moto_table};
use shared::adapters::dynamodb::DynamoStore;
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::merge_request_note::MergeRequestNote;
use shared::domain::sync::{IdSlice, SyncRecord};
use shared::domain::trigger::{ReportedState, TriggerStatus};
use shared::ports::{
    IntegrationStore, Recorded, RepositoryStore, StoreError, SyncStore, TriggerFilter, TriggerStore, WebhookStore,
};

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
        assert_eq!(store.record_delivery(&d, Some(&t)).await.unwrap(), Recorded::New);
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

on_backends!(store trigger_contract: memory, embedded, moto);

/// A merge request's summary note: kept, replaced by the next, one per request, and gone with
/// its integration.
async fn merge_request_note_contract<S: IntegrationStore + TriggerStore>(store: &S) {
    let a = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store.create_integration(&record(&a), None, None).await.unwrap();
    let built = trigger(&a, "note", 2000);
    assert_eq!(store.merge_request_note(&a, ProjectId(1), 7).await.unwrap(), None);
    let first = MergeRequestNote::of(&built, 7, 301, 2100);
    store.keep_merge_request_note(&first).await.unwrap();
    assert_eq!(
        store.merge_request_note(&a, ProjectId(1), 7).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.merge_request_note(&a, ProjectId(1), 8).await.unwrap(),
        None,
        "per request"
    );
    assert_eq!(
        store.merge_request_note(&a, ProjectId(2), 7).await.unwrap(),
        None,
        "per project"
    );
    let second = MergeRequestNote::of(&built, 7, 302, 2200);
    store.keep_merge_request_note(&second).await.unwrap();
    assert_eq!(
        store.merge_request_note(&a, ProjectId(1), 7).await.unwrap(),
        Some(second)
    );
    store.delete_integration(&a).await.unwrap();
    assert_eq!(store.merge_request_note(&a, ProjectId(1), 7).await.unwrap(), None);
}

on_backends!(store merge_request_note_contract: memory, embedded, moto);

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
    store.record_delivery(&logged, Some(&queued)).await.unwrap();
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
