//! The smallest lambda_runtime function: the baseline the cold-start bench compares ours with.

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(json!({"statusCode": 200, "body": "hello"}))
    }))
    .await
}
