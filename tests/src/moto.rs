//! moto, the AWS emulator the test command starts: SDK settings for it, a fresh table per test, and
//! an EventBridge bus read back through an SQS queue.

/// The webhook master key of apps on moto (the other backends make their own).
pub const MASTER_KEY: &str = "test-webhook-master-key-0123456789";

/// The moto endpoint the test command started, e.g. `http://127.0.0.1:5123`.
/// Tests that need it fail loudly without it rather than pass without testing anything.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh, which starts moto on a loopback port")
}

/// SDK settings for moto.
pub async fn moto_sdk() -> aws_config::SdkConfig {
    moto_sdk_at(&moto_endpoint()).await
}

/// SDK settings for an AWS emulator at `endpoint` (moto, or a proxy in front of it).
pub async fn moto_sdk_at(endpoint: &str) -> aws_config::SdkConfig {
    shared::adapters::sdk_settings::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// A fresh table on moto, named uniquely so tests do not see each other's items.
pub async fn moto_table(sdk: &aws_config::SdkConfig) -> String {
    let table = format!("t-{}", uuid::Uuid::new_v4().simple());
    oore_local::aws_setup::ensure_table(&aws_sdk_dynamodb::Client::new(sdk), &table)
        .await
        .expect("moto creates the table");
    table
}

/// A bus on moto whose rule sends events of `detail_type` (source `oore.gitlab`) to a new SQS
/// queue; returns the bus and the queue URL.
pub async fn bus_to_queue(detail_type: &str) -> (String, String) {
    let sdk = moto_sdk().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("builds-{}", uuid::Uuid::new_v4().simple());
    events.create_event_bus().name(&name).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .event_bus_name(&name)
        .name("events")
        .event_pattern(serde_json::json!({"source": ["oore.gitlab"], "detail-type": [detail_type]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .event_bus_name(&name)
        .rule("events")
        .targets(target)
        .send()
        .await
        .unwrap();
    (name, queue_url)
}

/// Every message the queue holds, read until it is empty.
pub async fn drain(queue_url: &str) -> Vec<serde_json::Value> {
    let sqs = aws_sdk_sqs::Client::new(&moto_sdk().await);
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// How many items the integration's partition holds on moto (a consistent count).
pub async fn integration_items(table: &str, id: &shared::domain::ids::IntegrationId) -> usize {
    let client = aws_sdk_dynamodb::Client::new(&moto_sdk().await);
    let pages: Vec<_> = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INTEGRATION#{id}")),
        )
        .select(aws_sdk_dynamodb::types::Select::Count)
        .consistent_read(true)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("moto counts the partition");
    pages.iter().map(|p| p.count() as usize).sum()
}
