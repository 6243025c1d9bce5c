//! Adapters: the ports implemented for DynamoDB, Secrets Manager, GitLab over HTTPS and memory.

pub mod aws_calls;
pub mod sdk_settings;
pub mod dynamodb;
pub mod gitlab_http;
pub mod memory;
pub mod secrets_manager;
