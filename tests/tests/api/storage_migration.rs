//! The one-time move of what an older release stored, on DynamoDB (moto): items written in the
//! old shape (a trigger with a random id and no integration index, its delivery's dedupe marker
//! and log entry) keep their dedupe protection, their log entry and their place in the queue.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use oore_gitlab_tests::records::{delivery, record, repo, trigger};
use oore_gitlab_tests::{moto_sdk, moto_table};
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::dynamodb::keys::{dedupe_sk, delivery_sk};
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::{IntegrationId, TriggerId};
use shared::ports::{IntegrationStore, Recorded, RepositoryStore, TriggerFilter, TriggerStore, WebhookStore};

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Writes a trigger, its dedupe marker and its log entry the way the older release did.
async fn write_old_shape(client: &aws_sdk_dynamodb::Client, table: &str, id: &IntegrationId) -> TriggerId {
    let mut old = trigger(id, "old-delivery", 1_000);
    old.id = TriggerId::generate();
    old.full_name = None;
    old.clone_url = None;
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&old).unwrap();
    item.insert("pk".into(), s(format!("TRIGGER#{}", old.id)));
    item.insert("sk".into(), s("META"));
    item.insert("gsi1pk".into(), s("TRIGGERS#queued"));
    item.insert("gsi1sk".into(), s(old.queue_position()));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let mut entry = delivery(id, "old-delivery", 1_000, DeliveryOutcome::Triggered);
    entry.trigger_id = Some(old.id.clone());
    let mut logged: HashMap<String, AttributeValue> = serde_dynamo::to_item(&entry).unwrap();
    logged.insert("pk".into(), s(format!("INTEGRATION#{id}")));
    logged.insert("sk".into(), s(delivery_sk(&entry.sort_key())));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(logged))
        .send()
        .await
        .unwrap();
    let marker = HashMap::from([
        ("pk".to_string(), s(format!("INTEGRATION#{id}"))),
        ("sk".to_string(), s(dedupe_sk(&entry.dedupe_key()))),
        ("entry".to_string(), s(entry.sort_key())),
    ]);
    client
        .put_item()
        .table_name(table)
        .set_item(Some(marker))
        .send()
        .await
        .unwrap();
    old.id
}

#[tokio::test]
async fn old_triggers_keep_dedupe_log_and_queue_after_the_migration_on_moto() {
    let sdk = moto_sdk().await;
    let table = moto_table(&sdk).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoStore::new(client.clone(), table.clone());
    let id = IntegrationId::generate();
    store.create_integration(&record(&id), None, None).await.unwrap();
    store.write_repositories(&id, &[repo(&id, 1)], &[]).await.unwrap();
    let old = write_old_shape(&client, &table, &id).await;

    let first = store.migrate_storage_shape(30 * 86_400, None).await.unwrap();
    assert!(first.done);
    assert!(first.triggers_moved >= 1, "{first:?}");

    // The queue of the integration holds the old trigger, with its repository's names.
    let of_integration = TriggerFilter {
        integration_id: Some(id.clone()),
        ..TriggerFilter::default()
    };
    let queued = store.list_triggers(&of_integration, None, 10).await.unwrap();
    assert_eq!(
        queued.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![old.clone()]
    );
    assert_eq!(queued[0].full_name.as_deref(), Some("group/project-1"));

    // The same push delivered again (through any hook) is still a duplicate.
    let again = trigger(&id, "old-delivery", 2_000);
    assert_ne!(again.id, old);
    let entry = delivery(&id, "another-hook", 2_000, DeliveryOutcome::Triggered);
    assert_eq!(
        store.record_delivery(&entry, Some(&again)).await.unwrap(),
        Recorded::Duplicate
    );
    assert_eq!(
        store.get_trigger(&again.id).await.unwrap(),
        None,
        "a build marker is no trigger"
    );

    // The log keeps one entry for the old delivery: the trigger's.
    let (log, _) = store.list_deliveries(&id, 10, None).await.unwrap();
    let triggered: Vec<_> = log.iter().filter(|d| d.outcome == DeliveryOutcome::Triggered).collect();
    assert_eq!(triggered.len(), 1, "{log:?}");
    assert_eq!(triggered[0].trigger_id.as_ref(), Some(&old));

    // Once done, a run reads its marker and moves nothing.
    let later = store.migrate_storage_shape(30 * 86_400, None).await.unwrap();
    assert_eq!((later.done, later.triggers_moved), (true, 0));
}
