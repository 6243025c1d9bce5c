//! Builds end to end: a delivery's trigger is queued, a runner claims it (one claim wins) with a
//! deploy token for that repository only, its reports become GitLab commit statuses, and the
//! claim runs out without reports. Against the fake GitLab, on the embedded store and on moto.
//! By area: claims and reports, the queue, and the hand-off on the table's stream.

mod claims;
mod comment_commands;
mod fork_merge_requests;
mod handoff;
mod merge_requests;
mod queue;
mod read_budget;
mod summary_notes;

use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The first project of the fake GitLab.
pub(crate) const PROJECT: u64 = 1000;
pub(crate) const SHA: &str = "5d3fe6a1b2c3d4e5f60718293a4b5c6d7e8f9012";

pub(crate) struct Setup {
    pub(crate) h: Harness,
    pub(crate) integration: String,
    pub(crate) secret: String,
}

pub(crate) async fn setup(backend: Backend) -> Setup {
    setup_with(backend, &[]).await
}

/// As [`setup`], with `settings` (environment names and values) added to the app's.
pub(crate) async fn setup_with(backend: Backend, settings: &[(&str, &str)]) -> Setup {
    let h = Harness::with_settings(backend, FakeOptions::default(), settings).await;
    let connected = h.connect_token().await;
    Setup {
        integration: connected.id.to_string(),
        secret: connected.webhook_secret,
        h,
    }
}

pub(crate) fn push(message: &str, path_claimed: &str) -> Value {
    oore_gitlab_tests::push_payload(PROJECT, SHA, message, path_claimed)
}

/// Delivers `payload` with the integration's secret; returns the answer.
pub(crate) async fn deliver(s: &Setup, payload: &Value) -> (u16, Value) {
    s.h.deliver(&s.secret, "Push Hook", payload).await
}

/// A GitLab webhook fixture.
pub(crate) fn webhook_fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/gitlab/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixtures' merge request (iid 1, `feature` into `master`), opened, moved onto
/// [`PROJECT`].
pub(crate) fn merge_request_opened() -> Value {
    let mut event = webhook_fixture("pull_request_create.json");
    event["project"]["id"] = json!(PROJECT);
    event["object_attributes"]["source_project_id"] = json!(PROJECT);
    event["object_attributes"]["target_project_id"] = json!(PROJECT);
    event
}

/// The fixtures' comment, saying `note`, by the GitLab user `author`, as note `note_id` on the
/// merge request of [`merge_request_opened`].
pub(crate) fn comment(note: &str, author: u64, note_id: u64) -> Value {
    let mut event = webhook_fixture("merge_request_comment_create.json");
    event["project"]["id"] = json!(PROJECT);
    event["project_id"] = json!(PROJECT);
    event["object_attributes"]["note"] = json!(note);
    event["object_attributes"]["author_id"] = json!(author);
    event["object_attributes"]["id"] = json!(note_id);
    event["merge_request"]["source_project_id"] = json!(PROJECT);
    event["merge_request"]["target_project_id"] = json!(PROJECT);
    event
}

/// Delivers `payload` as GitLab's `event` and answers the outcome (`triggered`, `ignored`,
/// `duplicate`) with the trigger id or reason.
pub(crate) async fn outcome(s: &Setup, event: &str, payload: &Value) -> (String, String) {
    let (status, answer) = s.h.deliver(&s.secret, event, payload).await;
    assert_eq!(status, 200, "{answer}");
    if answer["duplicate"] == true {
        return ("duplicate".into(), String::new());
    }
    let detail = answer["trigger_id"]
        .as_str()
        .or(answer["reason"].as_str())
        .unwrap_or_default();
    (
        answer["outcome"].as_str().unwrap_or_default().to_string(),
        detail.to_string(),
    )
}

pub(crate) async fn new_trigger(s: &Setup) -> String {
    let (status, answer) = deliver(s, &push("Add the feature", "diaspora/project-00000")).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    answer["trigger_id"].as_str().unwrap().to_string()
}

pub(crate) fn claim_path(id: &str) -> String {
    format!("/v1/build-triggers/{id}/claim")
}

pub(crate) fn status_path(id: &str) -> String {
    format!("/v1/build-triggers/{id}/status")
}

/// The states GitLab has been told for our commit, in order.
pub(crate) fn states(s: &Setup) -> Vec<String> {
    s.h.gitlab
        .state
        .builds
        .statuses()
        .into_iter()
        .filter(|st| st.sha == SHA && st.project_id == PROJECT)
        .map(|st| st.state)
        .collect()
}

/// Waits (bounded) until GitLab has seen `count` statuses for our commit.
pub(crate) async fn wait_for_states(s: &Setup, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = states(s);
        if seen.len() >= count || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// On moto, runs the stream function over every record so far, as Lambda would (moto cannot
/// run the mapping itself): new triggers handed off and changed states shown at GitLab, in
/// order. Elsewhere the runner's own hand-off does this.
pub(crate) async fn through_the_stream(s: &Setup, backend: Backend) {
    if backend != Backend::Moto {
        return;
    }
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let (bus, _) = oore_gitlab_tests::bus_to_queue("Build Triggered").await;
    let events = shared::adapters::eventbridge::EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), &bus);
    let event = stream_event(&s.h.app.services.config.table_name).await;
    shared::inbound::dynamodb_stream::hand_off_records(&s.h.app.services, &events, event).await;
}

/// Calls moto's DynamoDB Streams API as the Lambda service does for an event source mapping
/// (moto cannot run the mapping itself without Docker).
pub(crate) async fn streams_call(target: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(oore_gitlab_tests::moto_endpoint())
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{target}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    assert!(response.status().is_success(), "{target}: {}", response.status());
    response.json().await.expect("moto answers JSON")
}

/// Every record on the table's stream so far, wrapped as the event Lambda hands the function.
pub(crate) async fn stream_event(table: &str) -> aws_lambda_events::event::dynamodb::Event {
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let described = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let stream_arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_string();
    let stream = streams_call("DescribeStream", json!({"StreamArn": stream_arn})).await;
    let mut records = Vec::new();
    for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
        let iterator = streams_call(
            "GetShardIterator",
            json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let page = streams_call("GetRecords", json!({"ShardIterator": iterator["ShardIterator"]})).await;
        for mut record in page["Records"].as_array().unwrap().clone() {
            record["eventSourceARN"] = json!(stream_arn);
            records.push(record);
        }
    }
    serde_json::from_value(json!({ "Records": records })).expect("GetRecords output reads as the Lambda event")
}
