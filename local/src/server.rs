//! Serves the shared route table on a local port: axum requests become the `lambda_http`
//! requests the handlers take, exactly as API Gateway would hand them over.

use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use shared::inbound::http::App;
use tokio::net::TcpListener;

/// The most a request body may be before the runner refuses to read it (API Gateway's own cap
/// is 10 MB; handlers apply their smaller limits after this).
const MAX_READ: usize = 10 * 1024 * 1024;

async fn forward(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_READ).await {
        Ok(b) => b,
        Err(_) => {
            return into_axum(
                shared::inbound::http::envelope::ApiError::new(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is too large",
                )
                .into_response(),
            );
        }
    };
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    into_axum(app.handle(http::Request::from_parts(parts, body)).await)
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}

/// The router that serves every route of `app`.
pub fn router(app: App) -> Router {
    Router::new().fallback(forward).with_state(app)
}

/// Serves `app` on `listener` until `stop` completes; requests in flight are answered first.
pub async fn serve(
    listener: TcpListener,
    app: App,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app)).with_graceful_shutdown(stop).await
}

/// Completes on Ctrl-C or SIGTERM (what `kill` and service managers send).
pub async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            // Without the handler only Ctrl-C stops the runner cleanly.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
