//! The Oore CI GitLab integration, serverless edition: domain, ports, adapters and HTTP handlers
//! that every Lambda (and the local runner) is built from.

pub mod adapters;
pub mod domain;
pub mod ports;
pub mod config;
pub mod http;
pub mod sync;
pub mod runtime;
