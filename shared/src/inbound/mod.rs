//! Every way into the application: HTTP routes, the table's stream (the hand-off), the sync
//! queue, the schedules, and the Lambda start-up they share.

pub mod dynamodb_stream;
pub mod http;
pub mod lambda;
pub mod schedule;
pub mod sync_queue;
