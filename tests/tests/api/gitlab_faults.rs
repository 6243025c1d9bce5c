//! GitLab failing one API call in five (500, 502, or 429 with `Retry-After`), as the AWS fault
//! run fails AWS: a sync of 5,000 projects still stores every project, builds are claimed and
//! reported with no 5xx to the runner, and every build's final status reaches GitLab last. And
//! GitLab's rate limit: a sync paces itself to it instead of running into it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::Method;
use oore_gitlab_tests::{Backend, Harness, push_payload};
use oore_local::fake_gitlab::FakeOptions;
use shared::inbound::http::auth::Role;

const PROJECTS: usize = 5_000;
const BUILDS: usize = 10;
/// The first project of the fake GitLab.
const PROJECT: u64 = 1000;

fn commit(n: usize) -> String {
    format!("{:040x}", n + 1)
}

/// A harness whose fake GitLab lists `PROJECTS` projects.
async fn with_projects() -> Harness {
    let options = FakeOptions {
        projects: PROJECTS,
        ..FakeOptions::default()
    };
    Harness::new(Backend::Memory, options).await
}

/// The integration's detail once its sync pass has ended.
async fn settled(h: &Harness, id: &str) -> serde_json::Value {
    h.sync_settled(id).await;
    h.call(Method::GET, &format!("/v1/integrations/{id}"), Some(Role::Owner), None)
        .await
        .1
}

/// The states GitLab accepted for a commit, in order.
fn states_of(h: &Harness, sha: &str) -> Vec<String> {
    h.gitlab
        .state
        .builds
        .statuses()
        .into_iter()
        .filter(|st| st.sha == sha && st.project_id == PROJECT)
        .map(|st| st.state)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_failing_one_call_in_five_loses_no_project_and_no_status() {
    let h = with_projects().await;
    h.gitlab.state.failure_percent.store(20, Ordering::SeqCst);

    // Connect, and the sync it starts.
    let connected = h.connect_token().await;
    let detail = settled(&h, connected.id.as_str()).await;
    assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
    assert_eq!(detail["repository_count"], PROJECTS, "{detail}");

    // Builds: delivered, claimed, reported running and then success.
    let runner = h.token_for(Role::Runner, "runner-1");
    for n in 0..BUILDS {
        let push = push_payload(PROJECT, &commit(n), "Add the feature", "diaspora/project-00000");
        let (status, answer) = h.deliver(&connected.webhook_secret, "Push Hook", &push).await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (200, Some("triggered")),
            "{answer}"
        );
        let id = answer["trigger_id"].as_str().unwrap().to_string();
        // A claim GitLab failed through all the client's tries is queued again (409), never a
        // 5xx; the runner claims it again, as runners do.
        let mut claim = 1;
        loop {
            let (status, claimed) = h
                .call_with(Method::POST, &format!("/v1/build-triggers/{id}/claim"), &runner, None)
                .await;
            assert!(status < 500, "build {n}: the claim: {claimed}");
            if status == 200 {
                break;
            }
            assert_eq!(claimed["code"], "clone_credential_unavailable", "build {n}: {claimed}");
            assert!(claim < 3, "build {n}: claimed {claim} times: {claimed}");
            claim += 1;
        }
        for state in ["running", "success"] {
            let body = format!(r#"{{"state":"{state}"}}"#);
            let (status, answer) = h
                .call_with(
                    Method::POST,
                    &format!("/v1/build-triggers/{id}/status"),
                    &runner,
                    Some(&body),
                )
                .await;
            assert_eq!(status, 200, "build {n}: {state}: {answer}");
        }
    }

    // Every build's statuses reach GitLab, the final one last.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last: Vec<Option<String>> = (0..BUILDS).map(|n| states_of(&h, &commit(n)).last().cloned()).collect();
        if last.iter().all(|s| s.as_deref() == Some("success")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "statuses did not all end in success: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in 0..BUILDS {
        let states = states_of(&h, &commit(n));
        let running = states.iter().position(|s| s == "running");
        assert!(running.is_some(), "build {n}: running reached GitLab: {states:?}");
        assert!(
            states.iter().skip(running.unwrap_or(0)).all(|s| s != "pending"),
            "build {n}: no pending after running: {states:?}"
        );
    }
    assert!(
        h.gitlab.state.failed_at_random.load(Ordering::SeqCst) > 10,
        "GitLab really failed calls"
    );
}

/// GitLab allowing 20 requests a 10-second window: the sync of 5,000 projects (some 55 calls)
/// waits for each reset rather than being refused, keeping a tenth of the window free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_paces_itself_to_gitlabs_rate_limit() {
    let h = with_projects().await;
    h.gitlab.state.set_rate_limit(20, 10);
    let connected = h.connect_token().await;
    let detail = settled(&h, connected.id.as_str()).await;
    assert_eq!(detail["sync"]["state"], "succeeded", "{detail}");
    assert_eq!(detail["repository_count"], PROJECTS, "{detail}");
    let refused = h.gitlab.state.rate.refused.load(Ordering::SeqCst);
    assert!(refused <= 2, "{refused} requests were refused for the rate limit");
}
