//! The draft rules end to end, against the fake GitLab: a draft merge request does not build,
//! marking it ready builds its head commit once (a second "ready" is a duplicate), and updates
//! that change only labels, and approvals, never build.

use crate::webhooks::{OWNER, connected, deliver, fixture, gitlab_headers, id_of, secret_of};
use http::Method;
use oore_gitlab_tests::Backend;
use serde_json::{Value, json};

fn merge_request(change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut event = fixture("pull_request_create.json");
    change(&mut event);
    serde_json::to_vec(&event).unwrap()
}

#[tokio::test]
async fn drafts_wait_ready_builds_once_and_labels_or_approvals_never_build() {
    let (h, started) = connected(Backend::Memory).await;
    let (integration, secret) = (id_of(&started), secret_of(&started));
    let send = |body: Vec<u8>| {
        let headers = gitlab_headers("Merge Request Hook", &secret);
        let h = &h;
        async move { deliver(h, &headers, &body).await.1 }
    };

    let opened_draft = send(merge_request(|e| e["object_attributes"]["draft"] = json!(true))).await;
    assert_eq!(opened_draft["outcome"], "ignored", "{opened_draft}");

    let marked_ready = |e: &mut Value| {
        e["object_attributes"]["action"] = json!("update");
        e["object_attributes"]["draft"] = json!(false);
        e["changes"] = json!({"draft": {"previous": true, "current": false}});
    };
    let ready = send(merge_request(marked_ready)).await;
    assert_eq!(ready["outcome"], "triggered", "{ready}");
    let again = send(merge_request(marked_ready)).await;
    assert_eq!(again["duplicate"], true, "the same head commit builds once: {again}");

    let labelled = send(merge_request(|e| {
        e["object_attributes"]["action"] = json!("update");
        e["changes"] = json!({"labels": {"previous": [], "current": [{"id": 1, "title": "ready"}]}});
    }))
    .await;
    assert_eq!(labelled["outcome"], "ignored", "{labelled}");
    let approved = send(merge_request(|e| e["object_attributes"]["action"] = json!("approved"))).await;
    assert_eq!(approved["outcome"], "ignored", "{approved}");

    let (_, queue) = h
        .call(
            Method::GET,
            &format!("/v1/build-triggers?integration_id={integration}"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(queue["triggers"].as_array().map(Vec::len), Some(1), "{queue}");
}
