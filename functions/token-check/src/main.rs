//! Lambda on a daily schedule: checks every integration's token and publishes `Token Expiring`.
//! All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_token_check().await
}
