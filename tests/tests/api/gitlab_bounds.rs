//! A host that answers like no GitLab would: a body without end, page counts in the billions,
//! ids at the end of the number range. Each is met with a bounded refusal or a bounded walk, not
//! memory, requests or arithmetic without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::SecretString;
use serde_json::json;
use shared::app::sync::walk::{DEFAULT_CONCURRENCY, MOST_OFFSET_PAGES, fetch_all_projects};
use shared::domain::host::{HostPolicy, HostUrl};
use shared::ports::GitLabError;

type Params = Query<std::collections::HashMap<String, String>>;

/// Serves `router` on a loopback port; the host URL to reach it.
async fn serve(router: Router) -> HostUrl {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let policy = HostPolicy {
        allow_http_loopback: true,
        http_hosts: vec![],
    };
    HostUrl::parse(&format!("http://{address}"), &policy).unwrap()
}

fn project(id: u64) -> serde_json::Value {
    json!({"id": id, "path_with_namespace": format!("group/project-{id}"), "default_branch": "main"})
}

async fn walk(host: &HostUrl) -> Result<Vec<shared::domain::gitlab::GitLabProject>, GitLabError> {
    let gitlab = shared::wiring::gitlab_client();
    let token = SecretString::from("glpat-bounds".to_string());
    fetch_all_projects(gitlab.as_ref(), host, &token, DEFAULT_CONCURRENCY).await
}

#[tokio::test]
async fn an_answer_past_the_bound_is_refused_as_it_streams_in() {
    // A listing that never ends: chunked, no length to refuse it by up front.
    let endless = || async {
        let chunk = format!("[{}", vec![project(1).to_string(); 2_000].join(","));
        let stream = futures::stream::iter(std::iter::repeat_n(chunk, 10_000).map(Ok::<_, std::convert::Infallible>));
        axum::body::Body::from_stream(stream).into_response()
    };
    let host = serve(Router::new().route("/api/v4/projects", get(endless))).await;
    match walk(&host).await {
        Err(GitLabError::Decode(why)) => assert!(why.contains("longer than"), "{why}"),
        other => panic!("an endless answer is refused: {:?}", other.map(|p| p.len())),
    }
}

#[tokio::test]
async fn offset_pages_are_followed_up_to_a_bound_whatever_the_host_claims() {
    let served = Arc::new(AtomicU32::new(0));
    let pages = |State(served): State<Arc<AtomicU32>>, Query(params): Params| async move {
        if params.contains_key("pagination") {
            // No keyset pagination here: offset pages must be read.
            return Response::builder().status(400).body(axum::body::Body::empty()).unwrap();
        }
        served.fetch_add(1, Ordering::SeqCst);
        let page: u32 = params["page"].parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-page", HeaderValue::from(page));
        headers.insert("x-total-pages", HeaderValue::from(u32::MAX));
        headers.insert("x-next-page", HeaderValue::from(page.saturating_add(1)));
        (headers, axum::Json(json!([project(u64::from(page))]))).into_response()
    };
    let host = serve(
        Router::new()
            .route("/api/v4/projects", get(pages))
            .with_state(served.clone()),
    )
    .await;
    let projects = walk(&host).await.unwrap();
    assert_eq!(projects.len(), MOST_OFFSET_PAGES as usize);
    assert_eq!(served.load(Ordering::SeqCst), MOST_OFFSET_PAGES);
}

#[tokio::test]
async fn ids_at_the_end_of_the_range_are_sliced_without_overflow() {
    let keyset = |Query(params): Params| async move {
        // The newest project's id is the largest there is; every slice after it is empty.
        let body = if params.get("per_page").map(String::as_str) == Some("1") {
            json!([project(u64::MAX)])
        } else {
            json!([])
        };
        axum::Json(body)
    };
    let host = serve(Router::new().route("/api/v4/projects", get(keyset))).await;
    assert!(walk(&host).await.unwrap().is_empty());
}
