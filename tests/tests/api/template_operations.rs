//! What the stack gives its operator, held to the template (moto runs no alarms, so the template
//! is where they are checked): log groups with retention, JSON logs at the chosen level, alarms on
//! every function and on what the code counts, throttling, and a table that outlives the stack.

use std::collections::BTreeMap;

/// The template's resources, each as its own block of text, by logical id.
fn resources() -> BTreeMap<String, String> {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = text
        .split("\nResources:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nOutputs:\n").next())
        .expect("a Resources section");
    let mut blocks = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in section.lines() {
        let is_resource = line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':');
        if is_resource {
            if let Some((name, block)) = current.take() {
                blocks.insert(name, block);
            }
            current = Some((line.trim().trim_end_matches(':').to_string(), String::new()));
        } else if let Some((_, block)) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    if let Some((name, block)) = current {
        blocks.insert(name, block);
    }
    blocks
}

fn template() -> String {
    std::fs::read_to_string(format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn functions(resources: &BTreeMap<String, String>) -> Vec<String> {
    resources
        .iter()
        .filter(|(_, block)| block.contains("Type: AWS::Serverless::Function"))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The alarm whose block has every one of `lines`.
fn alarm_with<'a>(resources: &'a BTreeMap<String, String>, lines: &[&str]) -> Option<&'a String> {
    resources
        .values()
        .find(|block| block.contains("Type: AWS::CloudWatch::Alarm") && lines.iter().all(|l| block.contains(l)))
}

#[test]
fn every_function_has_a_log_group_with_retention_and_alarms_on_errors_and_throttles() {
    let resources = resources();
    let functions = functions(&resources);
    assert!(functions.len() >= 26, "{functions:?}");
    for function in &functions {
        let logs = resources
            .values()
            .find(|b| b.contains(&format!("LogGroupName: !Sub \"/aws/lambda/${{{function}}}\"")))
            .unwrap_or_else(|| panic!("{function} has no log group"));
        assert!(logs.contains("RetentionInDays: !Ref LogRetentionDays"), "{function}");
        for metric in ["Errors", "Throttles"] {
            alarm_with(
                &resources,
                &[
                    "Namespace: AWS/Lambda",
                    &format!("MetricName: {metric}"),
                    &format!("Value: !Ref {function} }}"),
                ],
            )
            .unwrap_or_else(|| panic!("{function} has no {metric} alarm"));
        }
    }
}

#[test]
fn alarms_watch_the_api_the_code_s_counters_the_stream_and_the_dead_letter_queues() {
    let resources = resources();
    let namespace = "Namespace: !Sub \"OoreGitLab/${AWS::StackName}\"";
    let expected: Vec<Vec<String>> = vec![
        vec![
            "Namespace: AWS/ApiGateway".into(),
            "MetricName: 5xx".into(),
            "Value: !Ref Api".into(),
        ],
        vec![
            namespace.into(),
            format!("MetricName: {}", shared::telemetry::TOKEN_REFRESHES),
            "Name: Result, Value: refused".into(),
        ],
        vec![
            namespace.into(),
            format!("MetricName: {}", shared::telemetry::GITLAB_RESPONSES),
            "Name: Status, Value: \"429\"".into(),
        ],
        vec![
            "MetricName: IteratorAge".into(),
            "Value: !Ref TriggerHandoffFunction".into(),
        ],
        vec![
            "MetricName: ApproximateNumberOfMessagesVisible".into(),
            "!GetAtt SyncDeadLetterQueue.QueueName".into(),
        ],
        vec![
            "MetricName: ApproximateNumberOfMessagesVisible".into(),
            "!GetAtt TriggerHandoffFailures.QueueName".into(),
        ],
    ];
    for lines in expected {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        alarm_with(&resources, &lines).unwrap_or_else(|| panic!("no alarm with {lines:?}"));
    }
    let text = template();
    assert!(text.contains("METRICS_NAMESPACE: !Sub \"OoreGitLab/${AWS::StackName}\""));
    for (name, block) in &resources {
        if block.contains("Type: AWS::CloudWatch::Alarm") {
            assert!(
                block.contains("AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"),
                "{name} does not notify the optional topic"
            );
        }
    }
    assert!(text.contains("HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, \"\"]]"));
}

#[test]
fn logs_are_json_at_the_chosen_level_and_the_api_is_throttled() {
    let text = template();
    let globals = text
        .split("\nGlobals:\n")
        .nth(1)
        .unwrap()
        .split("\nResources:\n")
        .next()
        .unwrap();
    for line in [
        "LogFormat: JSON",
        "ApplicationLogLevel: !Ref LogLevel",
        "RUST_LOG: !Ref LogLevel",
    ] {
        assert!(globals.contains(line), "Globals lack {line}");
    }
    let resources = resources();
    let api = &resources["Api"];
    assert!(api.contains("ThrottlingBurstLimit: !Ref ApiThrottlingBurstLimit"));
    assert!(api.contains("ThrottlingRateLimit: !Ref ApiThrottlingRateLimit"));
    // Unset by default: an account with a low concurrency quota cannot reserve any.
    assert!(resources["GitLabWebhookFunction"].contains(
        "ReservedConcurrentExecutions: !If [HasWebhookReservedConcurrency, !Ref WebhookReservedConcurrency, !Ref AWS::NoValue]"
    ));
    let parameters = text
        .split("\nParameters:\n")
        .nth(1)
        .unwrap()
        .split("\nConditions:\n")
        .next()
        .unwrap();
    let reserved = parameters.split("  WebhookReservedConcurrency:").nth(1).unwrap();
    assert!(reserved.lines().take(4).any(|l| l.trim() == "Default: 0"));
    let retention = parameters.split("  LogRetentionDays:").nth(1).unwrap();
    assert!(retention.lines().take(4).any(|l| l.trim() == "Default: 30"));
}

#[test]
fn the_table_outlives_the_stack() {
    let resources = resources();
    let table = &resources["Table"];
    assert!(table.contains("DeletionPolicy: Retain"));
    assert!(table.contains("UpdateReplacePolicy: Retain"));
    assert!(table.contains("AttributeName: ttl"));
}
