//! Test support for the integration tests and benches: the harness (apps on memory, the durable
//! store or moto, with a fake GitLab), moto itself, test doubles, store records, a fault proxy,
//! and the macro that runs one test on every backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backends;
pub mod calls;
pub mod fakes;
pub mod fault_proxy;
pub mod harness;
pub mod moto;
pub mod records;

pub use calls::*;
pub use fakes::*;
pub use harness::*;
pub use moto::*;
