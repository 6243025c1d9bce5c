//! `infra/operations.yaml`, the nested stack of every function's alarms, is
//! generated from the main template's functions: this module is the generator, and its test
//! holds the committed file equal to what it generates. After adding a function, regenerate:
//! `OORE_WRITE_TEMPLATES=1 cargo test -p oore-gitlab-tests --test api operations_template`.

use std::fmt::Write;

const HEADER: &str = r#"# GENERATED from template.yaml's functions by tests/tests/api/operations_template.rs; do not
# edit by hand (see that file for how to regenerate). Every function's alarms on errors and
# throttles. Nested by template.yaml as `Operations`.
AWSTemplateFormatVersion: "2010-09-09"
Description: Alarms of the Oore CI GitLab integration's functions.

Parameters:
  AlarmTopicArn:
    Type: String
    Default: ""
"#;

/// (logical id, binary) of every function, in the template's order (YAML mappings keep it; the
/// parsed model's JSON maps sort their keys).
fn functions() -> Vec<(String, String)> {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let resources = template["Resources"].as_mapping().expect("a Resources section");
    resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| {
            let id = id.as_str().expect("string logical ids").to_string();
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_default();
            (id, binary.to_string())
        })
        .collect()
}

fn alarm(out: &mut String, id: &str, kind: &str, description: &str, metric: &str) {
    writeln!(
        out,
        r#"
  {id}{kind}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: {description}
      Namespace: AWS/Lambda
      MetricName: {metric}
      Dimensions: [{{ Name: FunctionName, Value: !Ref {id}Function }}]
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"#
    )
    .unwrap();
}

/// The nested template for `functions`.
fn generate(functions: &[(String, String)]) -> String {
    let mut out = String::from(HEADER);
    for (id, binary) in functions {
        writeln!(
            out,
            "  {id}:\n    Type: String\n    Description: The {binary} function's name."
        )
        .unwrap();
    }
    out.push_str("\nConditions:\n  HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, \"\"]]\n\nResources:");
    for (id, binary) in functions {
        let id = id.trim_end_matches("Function");
        alarm(
            &mut out,
            id,
            "Errors",
            &format!("{binary} failed (function errors)"),
            "Errors",
        );
        alarm(
            &mut out,
            id,
            "Throttles",
            &format!("{binary} was throttled"),
            "Throttles",
        );
    }
    out
}

#[test]
fn operations_template_is_generated_from_the_functions() {
    let functions = functions();
    assert!(functions.len() >= 26, "{functions:?}");
    let expected = generate(&functions);
    let path = format!("{}/../infra/operations.yaml", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("OORE_WRITE_TEMPLATES").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{path} is not what the generator makes from template.yaml; regenerate it (see this module's header)"
    );
}
