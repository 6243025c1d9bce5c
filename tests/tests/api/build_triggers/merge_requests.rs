//! A merge request's build reports to the merge request's own pipeline: its commit statuses
//! carry the event's `head_pipeline_id` and the source branch as `ref`, so GitLab's merge
//! request rules count them; a push's carry its branch and no pipeline.

use crate::build_triggers::{PROJECT, claim_path, setup, status_path, through_the_stream};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends};
use serde_json::json;
use shared::inbound::http::auth::Role;
use std::time::{Duration, Instant};

const PIPELINE: u64 = 77;

async fn a_merge_request_reports_to_its_head_pipeline(backend: Backend) {
    let s = setup(backend).await;
    let path = format!(
        "{}/fixtures/gitlab/webhooks/pull_request_create.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // The fixture's merge request, moved onto the fake GitLab's first project.
    event["project"]["id"] = json!(PROJECT);
    event["object_attributes"]["source_project_id"] = json!(PROJECT);
    event["object_attributes"]["target_project_id"] = json!(PROJECT);
    event["object_attributes"]["head_pipeline_id"] = json!(PIPELINE);
    let sha = event["object_attributes"]["last_commit"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, answer) = s.h.deliver(&s.secret, "Merge Request Hook", &event).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("triggered")),
        "{answer}"
    );
    let id = answer["trigger_id"].as_str().unwrap().to_string();

    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, claimed) = s.h.call_with(Method::POST, &claim_path(&id), &runner, None).await;
    assert_eq!(status, 200, "{claimed}");
    assert_eq!(claimed["trigger"]["merge_request"]["pipeline_id"], PIPELINE);
    let (status, _) =
        s.h.call_with(Method::POST, &status_path(&id), &runner, Some(r#"{"state":"success"}"#))
            .await;
    assert_eq!(status, 200);
    through_the_stream(&s, backend).await;

    let deadline = Instant::now() + Duration::from_secs(5);
    let posted = loop {
        let posted: Vec<_> =
            s.h.gitlab
                .state
                .builds
                .statuses()
                .into_iter()
                .filter(|p| p.sha == sha)
                .collect();
        if posted.iter().any(|p| p.state == "success") || Instant::now() > deadline {
            break posted;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(posted.iter().any(|p| p.state == "success"), "{posted:?}");
    for status in &posted {
        assert_eq!(
            (status.pipeline_id, status.git_ref.as_deref()),
            (Some(PIPELINE), Some("feature")),
            "{status:?}"
        );
    }
}

on_backends!(app a_merge_request_reports_to_its_head_pipeline: memory, embedded, moto);
