//! The SAM template serves exactly the shared route table: one function per route, built from
//! the binary of the same name, on the route's method and path.

use std::collections::BTreeSet;

use shared::inbound::http::routes::ROUTES;

use crate::template_model;

/// (binary, method, path) of every HTTP route of every function in the template.
fn template_functions() -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (_, function) in template_model::load().of_type("AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("a Binary");
        for event in function["Properties"]["Events"].as_object().expect("Events").values() {
            if event["Type"] == "HttpApi" {
                let properties = &event["Properties"];
                found.push((
                    binary.to_string(),
                    properties["Method"].as_str().expect("a Method").to_string(),
                    properties["Path"].as_str().expect("a Path").to_string(),
                ));
            }
        }
    }
    found
}

#[test]
fn template_routes_match_the_route_table() {
    let mut in_template = template_functions();
    let mut in_code: Vec<_> = ROUTES
        .iter()
        .map(|r| (r.function.to_string(), r.method.to_string(), r.path.to_string()))
        .collect();
    in_template.sort();
    in_code.sort();
    assert_eq!(in_template, in_code);
}

#[test]
fn every_route_has_a_function_crate() {
    for route in ROUTES {
        let main = format!(
            "{}/../functions/{}/src/main.rs",
            env!("CARGO_MANIFEST_DIR"),
            route.function
        );
        let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{main}: {e}"));
        assert!(
            text.contains(&format!("RouteId::{:?}", route.id)),
            "{main} must serve {:?}",
            route.id
        );
    }
}

/// Every (action, resource) a function's role is granted, by binary, with each resource in the
/// template's own short form (`!Ref CallerKey`).
fn template_grants() -> std::collections::BTreeMap<String, BTreeSet<(String, String)>> {
    let mut grants = std::collections::BTreeMap::new();
    for (_, function) in template_model::load().of_type("AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("a Binary");
        let mut set = BTreeSet::new();
        let policies = function["Properties"]["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for statement in policies
            .iter()
            .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        {
            assert_eq!(statement["Effect"], "Allow", "{binary}: {statement}");
            let resource = template_model::short_form(&statement["Resource"]);
            for action in statement["Action"].as_array().expect("an Action list") {
                set.insert((action.as_str().expect("an action").to_string(), resource.clone()));
            }
        }
        grants.insert(binary.to_string(), set);
    }
    grants
}

/// What the route table says a function needs, in the template's words.
fn needed(route: &shared::inbound::http::routes::Route) -> BTreeSet<(String, String)> {
    use shared::inbound::http::routes::{CredentialUse, TableUse};
    let mut set = BTreeSet::new();
    let mut grant = |actions: &[&str], resource: &str| {
        for a in actions {
            set.insert((a.to_string(), resource.to_string()));
        }
    };
    let table = r#"[!GetAtt Table.Arn, !Sub "${Table.Arn}/index/*"]"#;
    // A listing reads its page's repositories with BatchGetItem.
    let read = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"];
    let write = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"];
    let TableUse {
        read: reads,
        write: writes,
        delete: deletes,
        batch_write: batch_writes,
    } = route.needs.table;
    if reads {
        grant(&read, table);
    }
    if writes {
        grant(&write, table);
    }
    if deletes {
        grant(&["dynamodb:DeleteItem"], table);
    }
    if batch_writes {
        grant(&["dynamodb:BatchWriteItem"], table);
    }
    if route.access != shared::inbound::http::auth::Access::Public {
        grant(&["secretsmanager:GetSecretValue"], "!Ref CallerKey");
    }
    if route.needs.sync_queue {
        grant(&["sqs:SendMessage"], "!GetAtt SyncQueue.Arn");
    }
    if route.needs.master_key {
        grant(&["secretsmanager:GetSecretValue"], "!Ref MasterKey");
    }
    let credentials = r#"!Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/integration/*""#;
    for use_ in route.needs.credentials {
        let action = match use_ {
            CredentialUse::Read => "secretsmanager:GetSecretValue",
            CredentialUse::Write => "secretsmanager:PutSecretValue",
            CredentialUse::Create => "secretsmanager:CreateSecret",
            CredentialUse::Delete => "secretsmanager:DeleteSecret",
        };
        grant(&[action], credentials);
    }
    set
}

#[test]
fn every_role_allows_exactly_what_its_function_needs() {
    let grants = template_grants();
    for route in ROUTES {
        let granted = grants
            .get(route.function)
            .unwrap_or_else(|| panic!("{} is not in the template", route.function));
        assert_eq!(
            granted,
            &needed(route),
            "{}: the template's grants differ from the route table's needs",
            route.function
        );
        assert!(
            granted
                .iter()
                .all(|(action, resource)| !action.contains('*') && resource != "*" && resource != "\"*\""),
            "{}: no wildcard actions or resources",
            route.function
        );
    }
    // A read-only function cannot write, a public one cannot read the caller key.
    let list = ROUTES.iter().find(|r| r.function == "list-integrations").unwrap();
    assert!(!needed(list).iter().any(|(a, _)| a == "dynamodb:PutItem"));
    let webhook = ROUTES.iter().find(|r| r.function == "gitlab-webhook").unwrap();
    assert!(!needed(webhook).iter().any(|(_, r)| r == "!Ref CallerKey"));
}

/// The public functions and the read routes may not remove items beyond what they use: read
/// routes delete nothing (those calling GitLab may still update the refresh lease or requeue a
/// claim), the webhook never deletes single items, the callback never batch-writes.
#[test]
fn public_and_read_functions_cannot_remove_what_they_do_not_use() {
    let grants = template_grants();
    let actions =
        |function: &str| -> BTreeSet<String> { grants[function].iter().map(|(action, _)| action.clone()).collect() };
    for route in ROUTES {
        let granted = actions(route.function);
        if matches!(
            route.access,
            shared::inbound::http::auth::Access::Read | shared::inbound::http::auth::Access::TriggerRead
        ) {
            for action in ["DeleteItem", "BatchWriteItem"] {
                assert!(
                    !granted.contains(&format!("dynamodb:{action}")),
                    "{} is a read route, yet may {action}",
                    route.function
                );
            }
        }
    }
    assert!(!actions("gitlab-webhook").contains("dynamodb:DeleteItem"));
    assert!(!actions("gitlab-callback").contains("dynamodb:BatchWriteItem"));
}
