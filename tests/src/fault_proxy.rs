//! A proxy in front of the AWS emulator that fails a share of the calls the way AWS does when it
//! is under pressure: DynamoDB's throttling answer, a 500 and a 503. The SDK is pointed at it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the proxy did, and whether it fails calls now.
#[derive(Default)]
pub struct FaultCounts {
    pub failing: AtomicBool,
    pub forwarded: AtomicU64,
    pub failed: AtomicU64,
}

struct Proxy {
    target: String,
    client: reqwest::Client,
    /// One call in `every` fails while failing.
    every: u64,
    counts: Arc<FaultCounts>,
}

/// A running proxy: its URL and its counts.
pub struct FaultProxy {
    pub url: String,
    pub counts: Arc<FaultCounts>,
}

impl FaultProxy {
    /// Starts a proxy to `target` on a free loopback port; it fails one call in `every` once
    /// `counts.failing` is set.
    pub async fn start(target: &str, every: u64) -> FaultProxy {
        let counts = Arc::new(FaultCounts::default());
        let proxy = Arc::new(Proxy {
            target: target.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            every,
            counts: counts.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(forward).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultProxy { url, counts }
    }
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if proxy.counts.failing.load(Ordering::SeqCst) && rand::random_range(0..proxy.every) == 0 {
        let n = proxy.counts.failed.fetch_add(1, Ordering::SeqCst);
        return match n % 3 {
            0 => (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.0")],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
            )
                .into_response(),
            1 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/x-amz-json-1.0")],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
            )
                .into_response(),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
        };
    }
    proxy.counts.forwarded.fetch_add(1, Ordering::SeqCst);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy.client.request(method, format!("{}{path}", proxy.target));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.body(body).send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            for (name, value) in &headers {
                if name != "content-length" && name != "transfer-encoding" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}
