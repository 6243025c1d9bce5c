//! The domain: integrations, hosts, GitLab's rules, webhooks and secrets, free of AWS and HTTP types.

pub mod build_rules;
pub mod credential;
pub mod delivery;
pub mod event_kind;
pub mod gitlab;
pub mod group_hooks;
pub mod hooks;
pub mod host;
pub mod ids;
pub mod index_merge;
pub mod integration;
pub mod keyed_hash;
pub mod merge_request_events;
pub mod merge_request_note;
pub mod name_index;
pub mod oauth;
pub mod secrets;
pub mod signature;
pub mod sync;
pub mod trigger;
pub mod trigger_status;
pub mod webhook;
pub mod webhook_keys;
