//! Lambda for `DELETE /v1/integrations/{id}/gitlab-group-webhooks/{hook_id}`.
//! All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_lambda(shared::inbound::http::routes::RouteId::DeleteGroupWebhook).await
}
