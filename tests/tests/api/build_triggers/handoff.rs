//! The hand-off on the table's stream: the stream function posts `pending` and publishes one
//! event per new trigger, and a failed publish is reported for its record alone.

use crate::build_triggers::{deliver, new_trigger, push, setup, stream_event};
use oore_gitlab_tests::Backend;
use serde_json::json;

#[tokio::test]
async fn the_stream_function_posts_pending_and_publishes_one_event_per_new_trigger_on_moto() {
    let s = setup(Backend::Moto).await;
    let shas = [
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
        "3333333333333333333333333333333333333333",
    ];
    let mut ids = Vec::new();
    for sha in shas {
        let mut payload = push("feature", "x");
        payload["after"] = json!(sha);
        payload["checkout_sha"] = json!(sha);
        payload["commits"][0]["id"] = json!(sha);
        let (_, answer) = deliver(&s, &payload).await;
        ids.push(answer["trigger_id"].as_str().unwrap().to_string());
        let (_, again) = deliver(&s, &payload).await;
        assert_eq!(again["duplicate"], true, "a resend records nothing new");
    }
    let table = s.h.app.services.config.table_name.clone();
    let event = stream_event(&table).await;
    assert!(
        event.records.len() > 3,
        "the stream carries every write, triggers among them"
    );

    let (bus, queue) = oore_gitlab_tests::bus_to_queue("Build Triggered").await;
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let events = shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), &bus);
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let published = oore_gitlab_tests::drain(&queue).await;
    let mut published_ids: Vec<String> = published
        .iter()
        .map(|e| e["detail"]["id"].as_str().unwrap().to_string())
        .collect();
    published_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(published_ids, expected, "exactly one event per new trigger");
    let first = &published[0];
    assert_eq!(
        (first["source"].as_str(), first["detail-type"].as_str()),
        (Some("oore.gitlab"), Some("Build Triggered"))
    );
    assert_eq!(first["detail"]["full_name"], "diaspora/project-00000");
    assert_eq!(first["detail"]["status"], "queued");
    let pending: Vec<_> =
        s.h.gitlab
            .state
            .builds
            .statuses()
            .into_iter()
            .filter(|st| st.state == "pending")
            .map(|st| st.sha)
            .collect();
    assert_eq!(pending.len(), 3, "pending for each trigger's commit: {pending:?}");

    // Handed the same records again (a retried batch), nothing is posted twice at GitLab.
    let again = stream_event(&table).await;
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, again).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        s.h.gitlab.state.builds.statuses().len(),
        3,
        "GitLab already shows pending"
    );
}

#[tokio::test]
async fn a_failed_publish_is_reported_for_its_record_alone_on_moto() {
    let s = setup(Backend::Moto).await;
    new_trigger(&s).await;
    let table = s.h.app.services.config.table_name.clone();
    let event = stream_event(&table).await;
    let trigger_record = event
        .records
        .iter()
        .find(|r| {
            r.event_name == "INSERT"
                && matches!(r.change.keys.get("pk"), Some(serde_dynamo::AttributeValue::S(pk)) if pk.starts_with("TRIGGER#"))
        })
        .expect("the trigger's record")
        .change
        .sequence_number
        .clone();
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let events =
        shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), "no-such-bus");
    let response = shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        vec![trigger_record],
        "the trigger's record, and only it, is retried"
    );
}
