//! Lambda for `GET /v1/integrations/{id}/deliveries`: all logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_lambda(shared::http::routes::RouteId::ListDeliveries).await
}
