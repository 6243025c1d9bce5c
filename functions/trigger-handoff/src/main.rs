//! Lambda on the table's stream: hands new build triggers off (GitLab's pending status, the
//! `Build Triggered` event). All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_trigger_stream().await
}
