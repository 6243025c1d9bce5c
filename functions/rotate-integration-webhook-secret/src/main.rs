//! Lambda for `POST /v1/integrations/{id}/gitlab-webhook-secret`: all logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_lambda(shared::http::routes::RouteId::RotateIntegrationWebhookSecret).await
}
