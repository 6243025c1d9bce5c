//! Repository syncs: jobs (queued, leased, resumed), the pass a job runs, and the walk of
//! GitLab's project pages a pass reads.

pub mod jobs;
mod pass;
mod pass_error;
pub mod walk;
