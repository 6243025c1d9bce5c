//! Lambda for `OPTIONS /v1/{proxy+}` (CORS preflight): all logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_lambda(shared::inbound::http::routes::RouteId::CorsPreflight).await
}
