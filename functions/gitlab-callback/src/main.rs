//! Lambda for `GET /v1/integrations/gitlab/callback`: all logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_lambda(shared::http::routes::RouteId::GitLabCallback).await
}
