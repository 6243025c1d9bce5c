//! Lambda on the sync queue: runs repository sync jobs. All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_sync_worker().await
}
