//! The integration tests, one binary of modules (one link instead of one per area): handlers end
//! to end on every backend, the adapters on moto, the template and the contract.
//! The metrics and log-capture tests keep binaries of their own: a metrics recorder and
//! tracing's callsite interest are process-wide, so other tests would leak into them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws_faults;
mod build_triggers;
mod cors;
mod embedded_store;
mod gitlab_bounds;
mod gitlab_faults;
mod hardening;
mod hook_oauth_contract;
mod lambda_events;
mod merged_listing;
mod oauth_flow;
mod openapi;
mod operations_template;
mod personal_token_flow;
mod purge;
mod repository_listing;
mod storage_migration;
mod store_contract;
mod sync_jobs;
mod sync_walk;
mod template_model;
mod template_operations;
mod template_routes;
mod token_expiry;
mod webhooks;
