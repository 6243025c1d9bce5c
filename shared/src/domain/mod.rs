//! The domain: integrations, hosts, GitLab's rules and secrets, free of AWS and HTTP types.

pub mod gitlab;
pub mod host;
pub mod integration;
pub mod secrets;
