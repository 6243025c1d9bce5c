//! The local runner's parts: the axum bridge to the handlers, table setup for emulators, its caller key, and the fake GitLab.

pub mod aws_setup;
pub mod caller_key;
pub mod fake_gitlab;
pub mod server;
pub mod timers;
