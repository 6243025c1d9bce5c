//! Repository listings served from the name index keep Oore's meaning exactly — `total`,
//! `offset`, `limit`, sorting by lower-case full name, and `q` over full name, default branch and
//! the words private/public — checked against a plain in-memory reference, on both stores.

use oore_gitlab_tests::on_backends;
use std::time::Duration;

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;

const OWNER: Option<Role> = Some(Role::Owner);

/// The reference: every repository, filtered and sorted the way the daemon does.
fn reference(all: &[Value], q: Option<&str>, offset: usize, limit: usize) -> (Vec<String>, usize) {
    let q = q.map(str::to_lowercase);
    let mut matching: Vec<&Value> = all
        .iter()
        .filter(|r| {
            let Some(q) = q.as_deref() else { return true };
            let name = r["full_name"].as_str().unwrap().to_lowercase();
            let branch = r["default_branch"].as_str().unwrap_or_default().to_lowercase();
            let private = r["is_private"].as_bool().unwrap();
            name.contains(q) || branch.contains(q) || (q == "private" && private) || (q == "public" && !private)
        })
        .collect();
    matching.sort_by(|a, b| {
        let name = |r: &Value| r["full_name"].as_str().unwrap().to_lowercase();
        name(a)
            .cmp(&name(b))
            .then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
    });
    let total = matching.len();
    (
        matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect(),
        total,
    )
}

async fn listing_keeps_its_meaning(backend: Backend) {
    let h = Harness::new(
        backend,
        FakeOptions {
            prefix: String::new(),
            projects: 240,
            delay: Duration::ZERO,
        },
    )
    .await;
    for (id, name, branch, level) in [
        (7u64, "Zeta/Alpha-Service", "Develop", 20),
        (8, "alpha/zeta", "main", 0),
        (9, "ALPHA/Beta", "release/2.x", 10),
        (10, "mixed/Case-Project", "master", 20),
    ] {
        h.gitlab.state.add_project(&json!({"id": id, "name": name, "path_with_namespace": name, "default_branch": branch, "visibility_level": level}));
    }
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    let index = h
        .app
        .services
        .repositories
        .read_name_index(&id.as_str().into(), 0, Some(1))
        .await
        .unwrap();
    assert_eq!(
        index.map(|i| i.total),
        Some(244),
        "the listing below is served from the name index"
    );
    let path = format!("/v1/integrations/{id}/repositories");
    // The whole list, page by page, is the reference's input.
    let mut all = Vec::new();
    for offset in (0..).step_by(100) {
        let (_, page) = h
            .call(Method::GET, &format!("{path}?limit=100&offset={offset}"), OWNER, None)
            .await;
        let items = page["repositories"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        all.extend(items);
    }
    assert_eq!(all.len(), 244);
    for (q, offset, limit) in [
        (None, 0, 20),
        (None, 237, 20),
        (None, 243, 5),
        (None, 400, 10),
        (Some("alpha"), 0, 10),
        (Some("ALPHA"), 1, 2),
        (Some("develop"), 0, 10),
        (Some("private"), 100, 50),
        (Some("public"), 0, 100),
        (Some("project-0012"), 3, 4),
        (Some("nothing-like-this"), 0, 10),
    ] {
        let query = match q {
            Some(q) => format!("{path}?q={q}&offset={offset}&limit={limit}"),
            None => format!("{path}?offset={offset}&limit={limit}"),
        };
        let (status, page) = h.call(Method::GET, &query, OWNER, None).await;
        assert_eq!(status, 200, "{page}");
        let got: Vec<String> = page["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        let (expected, total) = reference(&all, q, offset, limit);
        assert_eq!(
            (got, page["total"].as_u64().unwrap() as usize),
            (expected, total),
            "q={q:?} offset={offset} limit={limit}"
        );
    }
    // Across integrations: the same meaning over the merged list.
    let (_, merged) = h
        .call(
            Method::GET,
            "/v1/integration-repositories?q=alpha&limit=3&offset=1",
            OWNER,
            None,
        )
        .await;
    let (expected, total) = reference(&all, Some("alpha"), 1, 3);
    let got: Vec<String> = merged["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!((got, merged["total"].as_u64().unwrap() as usize), (expected, total));
}

on_backends!(app listing_keeps_its_meaning: memory, embedded, moto);

/// An index of several chunks: a page at a deep offset, across a chunk boundary, and the total.
#[tokio::test]
async fn deep_pages_read_the_right_chunks_on_moto() {
    let h = Harness::new(
        Backend::Moto,
        FakeOptions {
            prefix: String::new(),
            projects: 4_100,
            delay: Duration::ZERO,
        },
    )
    .await;
    let id = h.connect().await["integration"]["id"].as_str().unwrap().to_string();
    h.sync_settled(&id).await;
    // Generated names sort as they are numbered: offset k is project-{k:05}.
    for (offset, limit) in [(0usize, 3usize), (1_998, 4), (3_999, 3), (4_098, 5)] {
        let (status, page) = h
            .call(
                Method::GET,
                &format!("/v1/integrations/{id}/repositories?offset={offset}&limit={limit}"),
                OWNER,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let names: Vec<&str> = page["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["full_name"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (offset..(offset + limit).min(4_100))
            .map(|k| format!("diaspora/project-{k:05}"))
            .collect();
        assert_eq!(names, expected, "offset {offset}");
        assert_eq!(page["total"], 4_100);
    }
}
