//! One summary note per merge request (`MERGE_REQUEST_NOTES=true`) end to end: the first
//! finished build writes it, the next edits that same note, and a note deleted at GitLab is
//! written anew; the note names the state, the commit, the build's link and the time taken.

use crate::build_triggers::{
    PROJECT, Setup, claim_path, comment, merge_request_opened, outcome, setup_with, status_path, through_the_stream,
};
use http::Method;
use oore_gitlab_tests::{Backend, on_backends};
use oore_local::fake_gitlab::merge_requests::FakeNote;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::inbound::http::auth::Role;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const DEVELOPER: u64 = 201;
const IID: u64 = 1;

/// Claims `id`, reports it running (with its link) and then `state`, and lets the hand-off run.
async fn build_to_the_end(s: &Setup, backend: Backend, id: &str, state: &str, link: &str) {
    let runner = s.h.token_for(Role::Runner, "runner-1");
    let (status, claimed) = s.h.call_with(Method::POST, &claim_path(id), &runner, None).await;
    assert_eq!(status, 200, "{claimed}");
    let running = format!(r#"{{"state":"running","target_url":"{link}"}}"#);
    let (status, answer) =
        s.h.call_with(Method::POST, &status_path(id), &runner, Some(&running))
            .await;
    assert_eq!(status, 200, "{answer}");
    s.h.clock.0.fetch_add(125, Ordering::SeqCst);
    let done = format!(r#"{{"state":"{state}"}}"#);
    let (status, answer) =
        s.h.call_with(Method::POST, &status_path(id), &runner, Some(&done))
            .await;
    assert_eq!(status, 200, "{answer}");
    through_the_stream(s, backend).await;
}

/// Waits (bounded) until the request's notes satisfy `done`; answers them.
async fn notes_when(s: &Setup, done: impl Fn(&[FakeNote]) -> bool) -> Vec<FakeNote> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let notes = s.h.gitlab.state.merge_requests.notes(PROJECT, IID);
        if done(&notes) || Instant::now() > deadline {
            return notes;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn one_note_follows_the_requests_builds(backend: Backend) {
    let s = setup_with(backend, &[("MERGE_REQUEST_NOTES", "true")]).await;
    let gitlab = &s.h.gitlab.state.merge_requests;
    gitlab.open(PROJECT, IID);
    gitlab.add_member(PROJECT, DEVELOPER, 30);

    let (answer, first) = outcome(&s, "Merge Request Hook", &merge_request_opened()).await;
    assert_eq!(answer, "triggered", "{first}");
    build_to_the_end(&s, backend, &first, "success", "https://ci.example.com/builds/1").await;
    let notes = notes_when(&s, |n| n.len() == 1).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let written = notes[0].clone();
    for said in [
        "**success**",
        "`c4c79227`",
        "<https://ci.example.com/builds/1>",
        "2m 5s",
    ] {
        assert!(written.body.contains(said), "{said} in {}", written.body);
    }

    let (answer, second) = outcome(&s, "Note Hook", &comment("/oore build", DEVELOPER, 8001)).await;
    assert_eq!(answer, "triggered", "{second}");
    build_to_the_end(&s, backend, &second, "failed", "https://ci.example.com/builds/2").await;
    let notes = notes_when(&s, |n| n.iter().any(|n| n.body.contains("**failed**"))).await;
    assert_eq!(notes.len(), 1, "the same note, edited: {notes:?}");
    assert_eq!(notes[0].id, written.id);
    assert!(notes[0].edits >= 1);
    assert!(
        notes[0].body.contains("<https://ci.example.com/builds/2>"),
        "{}",
        notes[0].body
    );

    // Someone deletes the note: the next build writes a new one, and keeps its id.
    assert!(gitlab.delete_note(written.id));
    let (answer, third) = outcome(&s, "Note Hook", &comment("/oore build", DEVELOPER, 8002)).await;
    assert_eq!(answer, "triggered", "{third}");
    build_to_the_end(&s, backend, &third, "success", "https://ci.example.com/builds/3").await;
    let notes = notes_when(&s, |n| n.len() == 1).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_ne!(notes[0].id, written.id);
    assert!(notes[0].body.contains("**success**"), "{}", notes[0].body);
    let kept =
        s.h.app
            .services
            .triggers
            .merge_request_note(&IntegrationId::from(s.integration.clone()), ProjectId(PROJECT), IID)
            .await
            .unwrap()
            .expect("the note's id is kept");
    assert_eq!(kept.note_id, notes[0].id);
}

on_backends!(app one_note_follows_the_requests_builds: embedded, moto);

#[tokio::test]
async fn without_the_setting_no_note_is_written() {
    let s = setup_with(Backend::Memory, &[]).await;
    s.h.gitlab.state.merge_requests.open(PROJECT, IID);
    let (_, id) = outcome(&s, "Merge Request Hook", &merge_request_opened()).await;
    build_to_the_end(&s, Backend::Memory, &id, "success", "https://ci.example.com/builds/1").await;
    let shown = || s.h.gitlab.state.builds.statuses().iter().any(|p| p.state == "success");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !shown() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(shown(), "the final status was shown, so the hand-off ran");
    assert!(s.h.gitlab.state.merge_requests.notes(PROJECT, IID).is_empty());
}
