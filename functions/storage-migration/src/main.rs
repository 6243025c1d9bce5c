//! Lambda on a five-minute schedule: moves what was stored before a delivery was one item, once
//! (later runs read the marker and stop). All logic lives in the shared crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::inbound::lambda::serve_storage_migration().await
}
