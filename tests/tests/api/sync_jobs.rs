//! Syncs as jobs: resumed after a job hands over near its deadline, one pass at a time (later
//! requests join it), vanished repositories removed only after a complete pass, a delete during
//! a pass, and the SQS worker fed the messages moto holds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::json;
use shared::app::sync::jobs::{JobOutcome, run_job, run_sync_job, start_sync};
use shared::domain::ids::IntegrationId;
use shared::domain::sync::SyncRunState;
use shared::inbound::http::auth::Role;
use shared::ports::{QueueError, SyncJob, SyncQueue};

const OWNER: Option<Role> = Some(Role::Owner);

/// Keeps jobs instead of running them, so a test runs each itself.
#[derive(Default)]
struct HeldJobs(Mutex<Vec<SyncJob>>);

#[async_trait]
impl SyncQueue for HeldJobs {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

impl HeldJobs {
    fn take(&self) -> Vec<SyncJob> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An integration connected while jobs are held: its first pass is queued, not run.
async fn connected_holding_jobs(backend: Backend, projects: usize) -> (Harness, IntegrationId, Arc<HeldJobs>) {
    let mut h = Harness::new(
        backend,
        FakeOptions {
            prefix: String::new(),
            projects,
            delay: Duration::ZERO,
        },
    )
    .await;
    let held = Arc::new(HeldJobs::default());
    h.app.services.sync_queue = held.clone();
    let id: IntegrationId = h.connect().await["integration"]["id"].as_str().unwrap().into();
    (h, id, held)
}

async fn stored(h: &Harness, id: &IntegrationId) -> usize {
    h.app.services.repositories.list_repositories(id).await.unwrap().len()
}

#[tokio::test]
async fn a_job_near_its_deadline_hands_over_and_the_next_one_finishes() {
    let (h, id, held) = connected_holding_jobs(Backend::Memory, 1_200).await;
    let jobs = held.take();
    assert_eq!(jobs.len(), 1, "connect queued the first pass");
    // 100 ms a page; the job must stop 20 s before its deadline: give it a quarter second more,
    // enough for the id probe and a couple of waves of walkers, not for the whole pass.
    h.gitlab.state.set_delay(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(20_250);
    let outcome = run_sync_job(&h.app.services, &jobs[0], Some(deadline)).await.unwrap();
    assert_eq!(outcome, JobOutcome::HandedOver);
    let record = h.app.services.syncs.get_sync(&id).await.unwrap().unwrap();
    assert_eq!(record.state, SyncRunState::Running);
    assert!(
        record.remaining.as_ref().is_some_and(|r| !r.is_empty()),
        "what is left is recorded"
    );
    assert!(record.lease_owner.is_none(), "the pass is given back");
    let part = stored(&h, &id).await;
    assert!(part > 0 && part < 1_200, "repositories appear page by page: {part}");
    let (_, listed) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(listed["total"], part, "and can be listed while the pass runs");

    let next = held.take();
    assert_eq!(next, jobs, "the rest of the pass was queued as the same job");
    h.gitlab.state.set_delay(Duration::ZERO);
    assert_eq!(
        run_sync_job(&h.app.services, &next[0], None).await.unwrap(),
        JobOutcome::Finished
    );
    let record = h.app.services.syncs.get_sync(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.state, record.repository_count),
        (SyncRunState::Succeeded, 1_200)
    );
    assert_eq!(stored(&h, &id).await, 1_200, "every project once");
    assert_eq!(
        run_sync_job(&h.app.services, &next[0], None).await.unwrap(),
        JobOutcome::Skipped,
        "a repeated message finds its pass over"
    );
}

#[tokio::test]
async fn one_pass_at_a_time_later_requests_join_it() {
    let (h, id, held) = connected_holding_jobs(Backend::Memory, 30).await;
    let first = h.app.services.syncs.get_sync(&id).await.unwrap().unwrap();
    let joined = start_sync(&h.app.services, &id).await.unwrap();
    assert_eq!(joined.generation, first.generation, "a running pass is joined");
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "the sync call answers while the pass runs: {body}");
    assert_eq!(body["installations"].as_array().unwrap().len(), 1);
    assert_eq!(held.take().len(), 1, "one job for the one pass");
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["sync"]["state"], "running", "{detail}");

    // Two jobs of the same pass racing: one runs it, the other finds it held.
    let job = SyncJob {
        purge: false,
        integration_id: id.clone(),
        generation: first.generation,
    };
    let (a, b) = tokio::join!(
        run_sync_job(&h.app.services, &job, None),
        run_sync_job(&h.app.services, &job, None)
    );
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, vec![JobOutcome::Finished, JobOutcome::Skipped]);
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(
        (detail["sync"]["state"].as_str(), detail["repository_count"].as_u64()),
        (Some("succeeded"), Some(30))
    );
}

#[tokio::test]
async fn vanished_repositories_go_only_after_a_complete_pass() {
    let (h, id, held) = connected_holding_jobs(Backend::Memory, 600).await;
    run_sync_job(&h.app.services, &held.take()[0], None).await.unwrap();
    assert_eq!(stored(&h, &id).await, 600);
    h.gitlab.state.remove_projects(&(1000..1100).collect::<Vec<u64>>());
    let pass = start_sync(&h.app.services, &id).await.unwrap();
    h.gitlab.state.set_delay(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(20_250);
    let job = held.take().remove(0);
    assert_eq!(
        run_sync_job(&h.app.services, &job, Some(deadline)).await.unwrap(),
        JobOutcome::HandedOver
    );
    assert_eq!(stored(&h, &id).await, 600, "an unfinished pass removes nothing");
    h.gitlab.state.set_delay(Duration::ZERO);
    run_sync_job(&h.app.services, &held.take()[0], None).await.unwrap();
    assert_eq!(
        stored(&h, &id).await,
        500,
        "the complete pass removed what GitLab no longer lists"
    );
    let record = h.app.services.syncs.get_sync(&id).await.unwrap().unwrap();
    assert_eq!((record.generation, record.repository_count), (pass.generation, 500));
}

#[tokio::test]
async fn a_delete_answers_at_once_and_its_items_go_in_the_background() {
    let (h, id, held) = connected_holding_jobs(Backend::Memory, 50).await;
    let sync = held.take();
    run_sync_job(&h.app.services, &sync[0], None).await.unwrap();
    assert_eq!(stored(&h, &id).await, 50);
    let secret = {
        let (_, rotated) = h
            .call(
                Method::POST,
                &format!(
                    "/v1/integration-repositories/{}/gitlab-webhook-secret",
                    h.app.services.repositories.list_repositories(&id).await.unwrap()[0].id
                ),
                OWNER,
                Some("{}"),
            )
            .await;
        rotated["webhook_secret"].as_str().unwrap().to_string()
    };
    // A pass is running when the delete comes.
    start_sync(&h.app.services, &id).await.unwrap();
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200);

    // Gone for every caller at once, although its repositories are still stored.
    assert_eq!(stored(&h, &id).await, 50);
    assert_eq!(
        h.call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
            .await
            .0,
        404
    );
    assert_eq!(
        h.call(Method::GET, &format!("/v1/integrations/{id}/repositories"), OWNER, None)
            .await
            .0,
        404
    );
    let (_, all) = h.call(Method::GET, "/v1/integration-repositories", OWNER, None).await;
    assert!(
        all["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["integration_id"] != id.as_str()),
        "{all}"
    );
    let (_, listed) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert!(
        listed["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id.as_str())
    );
    let headers = [
        ("x-gitlab-token".to_string(), secret),
        ("x-gitlab-event".to_string(), "Push Hook".to_string()),
    ];
    let push = json!({"object_kind": "push", "ref": "refs/heads/main", "after": "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678", "checkout_sha": "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678", "project": {"id": 1000}});
    let (status, _, _) = h
        .send(
            Method::POST,
            "/v1/webhooks/gitlab",
            &headers,
            Some(push.to_string().into_bytes()),
        )
        .await;
    assert_eq!(status, 401, "no delivery for a deleted integration is accepted");
    assert_eq!(
        h.call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
            .await
            .0,
        404,
        "deleted once"
    );

    // The jobs: the pass finds its integration gone; the removal empties the store.
    let mut jobs = held.take();
    jobs.sort_by_key(|j| j.purge);
    assert_eq!(
        jobs.iter().map(|j| j.purge).collect::<Vec<_>>(),
        vec![false, true, true],
        "the pass, the removal, and its repeat"
    );
    assert_eq!(
        run_sync_job(&h.app.services, &jobs[0], None).await.unwrap(),
        JobOutcome::Skipped
    );
    assert_eq!(
        run_job(&h.app.services, &jobs[1], None).await.unwrap(),
        JobOutcome::Finished
    );
    assert_eq!(stored(&h, &id).await, 0);
    assert_eq!(h.app.services.syncs.get_sync(&id).await.unwrap(), None);
    assert_eq!(h.app.services.integrations.get_integration(&id).await.unwrap(), None);
    assert_eq!(
        run_job(&h.app.services, &jobs[2], None).await.unwrap(),
        JobOutcome::Skipped,
        "a repeat finds nothing"
    );
}

#[tokio::test]
async fn the_sync_worker_runs_the_jobs_moto_queued() {
    let mut h = Harness::new(
        Backend::Moto,
        FakeOptions {
            prefix: String::new(),
            projects: 120,
            delay: Duration::ZERO,
        },
    )
    .await;
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("sync-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap();
    let url = queue.queue_url.unwrap();
    h.app.services.sync_queue = Arc::new(shared::adapters::sqs::SqsSyncQueue::new(sqs.clone(), &url));
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(
        detail["sync"]["state"], "running",
        "no worker yet: connect answered after its wait"
    );

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let records: Vec<_> = received
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body, "eventSource": "aws:sqs"}))
        .collect();
    assert_eq!(records.len(), 1);
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let response = shared::inbound::sync_queue::run_messages(&h.app.services, event, None).await;
    assert!(response.batch_item_failures.is_empty());
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(
        (detail["sync"]["state"].as_str(), detail["repository_count"].as_u64()),
        (Some("succeeded"), Some(120)),
        "{detail}"
    );
}

#[tokio::test]
async fn a_delete_removes_the_hooks_we_registered_and_no_other() {
    let h = Harness::new(
        Backend::Memory,
        FakeOptions {
            prefix: String::new(),
            projects: 5,
            delay: Duration::ZERO,
        },
    )
    .await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let (_, repos) = h
        .call(Method::GET, &format!("/v1/integrations/{id}/repositories"), OWNER, None)
        .await;
    let repo = &repos["repositories"][0];
    let project: u64 = repo["external_id"].as_str().unwrap().parse().unwrap();
    let (status, registered) = h
        .call(
            Method::POST,
            &format!(
                "/v1/integration-repositories/{}/gitlab-webhook",
                repo["id"].as_str().unwrap()
            ),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{registered}");
    let theirs =
        oore_local::fake_gitlab::hooks::add_foreign_hook(&h.gitlab.state, project, "https://other-ci.example.com/hook");
    assert_eq!(h.gitlab.state.hooks(project).len(), 2);
    let (status, _) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(status, 200);
    let left: Vec<u64> = h
        .gitlab
        .state
        .hooks(project)
        .iter()
        .map(|hook| hook["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        left,
        vec![theirs],
        "ours deleted before the delete answered, theirs kept"
    );
}

/// A finished pass's record expires (the table's TTL). The detail still counts the
/// repositories, and the next pass, numbered from the clock, still removes only what vanished.
#[tokio::test]
async fn an_expired_sync_record_loses_neither_the_count_nor_removals_on_moto() {
    let h = Harness::new(
        Backend::Moto,
        FakeOptions {
            projects: 30,
            ..FakeOptions::default()
        },
    )
    .await;
    let started = h.connect().await;
    let id = started["integration"]["id"].as_str().unwrap().to_string();
    h.sync_settled(&id).await;
    let sdk = oore_gitlab_tests::moto_sdk().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .delete_item()
        .table_name(&h.app.services.config.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INTEGRATION#{id}")),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("SYNC".into()))
        .send()
        .await
        .unwrap();
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(
        (detail["repository_count"].as_u64(), &detail["sync"]),
        (Some(30), &json!(null)),
        "{detail}"
    );

    // Generated projects are numbered from 1000. The record expired: months have passed.
    h.gitlab.state.remove_projects(&[1000, 1001, 1002, 1003, 1004]);
    h.clock.0.fetch_add(
        shared::domain::sync::FINISHED_SYNC_RETENTION_SECS + 3600,
        std::sync::atomic::Ordering::SeqCst,
    );
    h.sync_and_settle(&id).await;
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 25, "{detail}");
    let (_, list) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=100"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(list["total"], 25, "{list}");
}
