//! Reading every project within GitLab's real limits: keyset slices walked side by side past the
//! offset ceiling, a 429 in the middle of the walk, sparse ids, and offset pages where GitLab
//! offers no keyset pagination.

use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::json;
use shared::inbound::http::auth::Role;

const OWNER: Option<Role> = Some(Role::Owner);

fn options(projects: usize) -> FakeOptions {
    FakeOptions {
        prefix: String::new(),
        projects,
        delay: Duration::ZERO,
    }
}

async fn repository_count(h: &Harness, id: &str) -> u64 {
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    detail["repository_count"].as_u64().unwrap()
}

/// Waits (bounded) for the integration's sync pass to end; returns its state.
async fn settled(h: &Harness, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, detail) = h
            .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
            .await;
        let state = detail["sync"]["state"].as_str().unwrap_or_default().to_string();
        if state != "running" || Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn resync(h: &Harness, id: &str) -> (u16, serde_json::Value) {
    h.call(
        Method::POST,
        &format!("/v1/integrations/{id}/installations"),
        OWNER,
        Some("{}"),
    )
    .await
}

#[tokio::test]
async fn keyset_slices_read_past_the_offset_ceiling() {
    let h = Harness::new(Backend::Memory, options(1_500)).await;
    // GitLab refuses offset pages of projects past an offset of 50,000; here past 1,000.
    h.gitlab.state.projects.set_max_offset(1_000);
    h.gitlab.state.set_delay(Duration::from_millis(20));
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    assert_eq!(repository_count(&h, &id).await, 1_500);
    let in_flight = h.gitlab.state.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        in_flight > 1 && in_flight <= h.app.services.config.sync_concurrency,
        "side by side, bounded: {in_flight}"
    );
}

#[tokio::test]
async fn sparse_ids_are_all_found() {
    let h = Harness::new(Backend::Memory, options(20)).await;
    for id in [3u64, 77_777, 4_000_000_001] {
        h.gitlab
            .state
            .add_project(&json!({"id": id, "name": format!("p{id}"), "path_with_namespace": format!("far/p{id}")}));
    }
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    assert_eq!(repository_count(&h, &id).await, 23);
    let (_, repos) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?q=far/&limit=10"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(repos["total"], 3, "{repos}");
}

#[tokio::test]
async fn a_rate_limit_in_the_middle_of_the_walk_pauses_and_goes_on() {
    let h = Harness::new(Backend::Memory, options(800)).await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.gitlab.state.set_projects(900);
    // More 429s in a row than the client waits out on its own: the walk's shared pause takes over.
    h.gitlab.state.rate_limit_next(5);
    let started = Instant::now();
    let (status, body) = resync(&h, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(settled(&h, &id).await, "succeeded");
    assert!(started.elapsed() >= Duration::from_secs(4), "Retry-After was honoured");
    assert_eq!(repository_count(&h, &id).await, 900, "nothing dropped");
}

#[tokio::test]
async fn without_keyset_pagination_offset_pages_are_read() {
    let h = Harness::new(Backend::Memory, options(1_234)).await;
    h.gitlab.state.projects.set_keyset(false);
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    assert_eq!(repository_count(&h, &id).await, 1_234);
    h.gitlab.state.remove_projects(&[1000, 1001]);
    let (status, _) = resync(&h, &id).await;
    assert_eq!(status, 200);
    assert_eq!(
        repository_count(&h, &id).await,
        1_232,
        "vanished projects are removed after a complete read"
    );
}
