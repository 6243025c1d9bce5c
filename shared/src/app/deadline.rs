//! The deadline of the invocation a use case runs in, where the runtime has one (Lambda), so
//! work that must not be cut half-way (a token refresh) is not started too late.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of a Lambda invocation as an instant of this process's clock.
pub fn deadline_of(context: &lambda_http::lambda_runtime::Context) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(context.deadline.saturating_sub(now_ms))
}

/// Runs `work` with `deadline` as the invocation's deadline.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the invocation's deadline; `None` where there is no deadline (the local
/// runner, background tasks).
pub fn time_left() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_left_is_known_only_within_a_deadline() {
        assert_eq!(time_left(), None);
        let left = within(Instant::now() + Duration::from_secs(5), async { time_left() }).await;
        assert!(left.is_some_and(|l| l > Duration::from_secs(4) && l <= Duration::from_secs(5)));
        let past = within(Instant::now(), async { time_left() }).await;
        assert_eq!(past, Some(Duration::ZERO));
    }
}
