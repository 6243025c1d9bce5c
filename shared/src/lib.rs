//! The Oore CI GitLab integration, serverless edition: the domain, the use cases (`app`), the
//! ports and their adapters, every way in (`inbound`) and the wiring every Lambda (and the local
//! runner) is built from.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod inbound;
pub mod ports;
pub mod telemetry;
pub mod wiring;
