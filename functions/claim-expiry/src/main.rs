//! Lambda on a one-minute schedule: queues again the build triggers whose claim ran out and
//! revokes their clone credentials. All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_claim_expiry().await
}
