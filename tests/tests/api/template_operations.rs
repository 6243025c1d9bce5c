//! What the stack gives its operator, held to the template (moto runs no alarms, so the template
//! is where they are checked): log groups with retention, JSON logs at the chosen level, alarms on
//! every function and on what the code counts, throttling, and a table that outlives the stack.

use serde_json::{Map, Value, json};

use crate::template_model::{self, Template};

fn tag(name: &str, value: impl Into<Value>) -> Value {
    json!({ name: value.into() })
}

/// The alarms' properties.
fn alarms(template: &Template) -> Vec<(String, Value)> {
    template
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, alarm)| (name, alarm["Properties"].clone()))
        .collect()
}

/// Whether an alarm watches `metric` (in `namespace`, when given) with a dimension of `value`
/// (named `name`, when given).
fn has_alarm(
    alarms: &[(String, Value)],
    namespace: Option<Value>,
    metric: &str,
    name: Option<&str>,
    value: &Value,
) -> bool {
    alarms.iter().any(|(_, alarm)| {
        namespace.as_ref().is_none_or(|n| &alarm["Namespace"] == n)
            && alarm["MetricName"] == metric
            && alarm["Dimensions"].as_array().is_some_and(|dimensions| {
                dimensions
                    .iter()
                    .any(|d| &d["Value"] == value && name.is_none_or(|n| d["Name"] == n))
            })
    })
}

/// Every function logs to one group the stack owns, with retention, named outside
/// `/aws/lambda/` (where Lambda makes groups by itself, so a stack deployed before the template
/// owned its logs upgrades without meeting a group that already exists); and every function
/// has alarms on errors and throttles.
#[test]
fn every_function_logs_to_the_stacks_own_group_and_has_alarms_on_errors_and_throttles() {
    let template = template_model::load();
    let functions: Vec<String> = template
        .of_type("AWS::Serverless::Function")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(functions.len() >= 26, "{functions:?}");
    let resources = template.resources();
    let globals = template.section("Globals");
    assert_eq!(
        globals["Function"]["LoggingConfig"]["LogGroup"],
        tag("!Ref", "FunctionLogs")
    );
    let logs = &resources["FunctionLogs"];
    assert_eq!(logs["Type"], "AWS::Logs::LogGroup");
    let name = logs["Properties"]["LogGroupName"]["!Sub"].as_str().unwrap_or_default();
    assert!(
        name.starts_with('/') && !name.starts_with("/aws/") && name.contains("${AWS::StackName}"),
        "{name}"
    );
    assert_eq!(logs["Properties"]["RetentionInDays"], tag("!Ref", "LogRetentionDays"));
    for function in &functions {
        assert!(
            resources[function]["Properties"]["LoggingConfig"]["LogGroup"].is_null(),
            "{function} keeps the stack's log group"
        );
    }

    // The nested stack gets each function's name as a parameter of the same name, and owns no
    // log group.
    let nested = &resources["Operations"]["Properties"];
    assert_eq!(nested["Location"], "operations.yaml");
    assert_eq!(nested["Parameters"]["AlarmTopicArn"], tag("!Ref", "AlarmTopicArn"));
    let operations = template_model::load_file("operations.yaml");
    assert!(operations.of_type("AWS::Logs::LogGroup").is_empty());
    let alarms = alarms(&operations);
    for function in &functions {
        assert_eq!(
            nested["Parameters"][function],
            tag("!Ref", function.as_str()),
            "{function}"
        );
        assert_eq!(
            operations.section("Parameters")[function]["Type"],
            "String",
            "{function}"
        );
        for metric in ["Errors", "Throttles"] {
            assert!(
                has_alarm(
                    &alarms,
                    Some(json!("AWS/Lambda")),
                    metric,
                    Some("FunctionName"),
                    &tag("!Ref", function.as_str())
                ),
                "{function} has no {metric} alarm"
            );
        }
    }
}

#[test]
fn alarms_watch_the_api_the_code_s_counters_the_stream_and_the_dead_letter_queues() {
    let template = template_model::load();
    let watching = alarms(&template);
    let namespace = tag("!Sub", "OoreGitLab/${AWS::StackName}");
    let expected: Vec<(Option<Value>, &str, Option<&str>, Value)> = vec![
        (Some(json!("AWS/ApiGateway")), "5xx", None, tag("!Ref", "Api")),
        (
            Some(namespace.clone()),
            shared::telemetry::TOKEN_REFRESHES,
            Some("Result"),
            json!("refused"),
        ),
        (
            Some(namespace.clone()),
            shared::telemetry::GITLAB_RESPONSES,
            Some("Status"),
            json!("429"),
        ),
        (None, "IteratorAge", None, tag("!Ref", "TriggerHandoffFunction")),
        (
            None,
            "ApproximateNumberOfMessagesVisible",
            None,
            tag("!GetAtt", "SyncDeadLetterQueue.QueueName"),
        ),
        (
            None,
            "ApproximateNumberOfMessagesVisible",
            None,
            tag("!GetAtt", "TriggerHandoffFailures.QueueName"),
        ),
    ];
    for (namespace, metric, name, value) in expected {
        assert!(
            has_alarm(&watching, namespace.clone(), metric, name, &value),
            "no alarm on {metric} {name:?}={value} in {namespace:?}"
        );
    }
    let variables = &template.section("Globals")["Function"]["Environment"]["Variables"];
    assert_eq!(variables["METRICS_NAMESPACE"], namespace);
    let notify = json!({"!If": ["HasAlarmTopic", [{"!Ref": "AlarmTopicArn"}], {"!Ref": "AWS::NoValue"}]});
    for each in [template, template_model::load_file("operations.yaml")] {
        for (name, alarm) in alarms(&each) {
            assert_eq!(
                alarm["AlarmActions"], notify,
                "{name} does not notify the optional topic"
            );
        }
        assert_eq!(
            each.section("Conditions")["HasAlarmTopic"],
            json!({"!Not": [{"!Equals": [{"!Ref": "AlarmTopicArn"}, ""]}]})
        );
    }
}

#[test]
fn logs_are_json_at_the_chosen_level_and_the_api_is_throttled() {
    let template = template_model::load();
    let function = &template.section("Globals")["Function"];
    assert_eq!(function["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(
        function["LoggingConfig"]["ApplicationLogLevel"],
        tag("!Ref", "LogLevel")
    );
    assert_eq!(
        function["Environment"]["Variables"]["RUST_LOG"],
        tag("!Ref", "LogLevel")
    );
    let resources: Map<String, Value> = template.resources();
    let routes = &resources["Api"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(routes["ThrottlingBurstLimit"], tag("!Ref", "ApiThrottlingBurstLimit"));
    assert_eq!(routes["ThrottlingRateLimit"], tag("!Ref", "ApiThrottlingRateLimit"));
    // Unset by default: an account with a low concurrency quota cannot reserve any.
    assert_eq!(
        resources["GitLabWebhookFunction"]["Properties"]["ReservedConcurrentExecutions"],
        json!({"!If": ["HasWebhookReservedConcurrency", {"!Ref": "WebhookReservedConcurrency"}, {"!Ref": "AWS::NoValue"}]})
    );
    let parameters = template.section("Parameters");
    assert_eq!(parameters["WebhookReservedConcurrency"]["Default"], 0);
    assert_eq!(parameters["LogRetentionDays"]["Default"], 30);
}

#[test]
fn the_table_outlives_the_stack() {
    let resources = template_model::load().resources();
    let table = &resources["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(table["Properties"]["TimeToLiveSpecification"]["AttributeName"], "ttl");
}
