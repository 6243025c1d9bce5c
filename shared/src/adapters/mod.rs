//! Adapters: the ports implemented for DynamoDB, Secrets Manager, GitLab over HTTPS, the local
//! runner's durable store (feature `embedded`) and memory, and the settings the AWS SDK clients share.

pub mod aws_calls;
pub mod capacity;
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod eventbridge;
pub mod gitlab_http;
#[cfg(feature = "test-support")]
pub mod memory;
pub mod sdk_settings;
pub mod secrets_manager;
pub mod sqs;
