//! The Oore CI GitLab integration, serverless edition: the domain, the use cases (`app`), the
//! ports and their adapters, and the HTTP handlers every Lambda (and the local runner) is built from.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod runtime;
pub mod stream;
pub mod sync_worker;
pub mod telemetry;
