//! A merge request's build reports to the merge request's own pipeline: its commit statuses
//! carry the event's `head_pipeline_id` and the source branch as `ref`, so GitLab's merge
//! request rules count them; a push's carry its branch and no pipeline. A pipeline GitLab
//! refuses is left out, and the status still shown.

use crate::build_triggers::{claim_path, merge_request_opened, outcome, setup, status_path, through_the_stream};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends};
use serde_json::json;
use shared::inbound::http::auth::Role;
use std::time::{Duration, Instant};

const PIPELINE: u64 = 77;

async fn a_merge_request_reports_to_its_head_pipeline(backend: Backend) {
    let s = setup(backend).await;
    let mut event = merge_request_opened();
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

#[tokio::test]
async fn a_pipeline_gitlab_refuses_is_left_out() {
    let s = setup(Backend::Memory).await;
    s.h.gitlab.state.builds.refuse_pipeline(PIPELINE);
    let mut event = merge_request_opened();
    event["object_attributes"]["head_pipeline_id"] = json!(PIPELINE);
    let (answer, _) = outcome(&s, "Merge Request Hook", &event).await;
    assert_eq!(answer, "triggered");
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.h.gitlab.state.builds.status_count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let posted = s.h.gitlab.state.builds.statuses();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(
        (
            posted[0].state.as_str(),
            posted[0].pipeline_id,
            posted[0].git_ref.as_deref()
        ),
        ("pending", None, Some("feature"))
    );
}
