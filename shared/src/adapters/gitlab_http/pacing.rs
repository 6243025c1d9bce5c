//! Pacing by GitLab's rate limit: each token's window as GitLab's `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` last told it. A caller that would spend the last
//! tenth of the window waits for the reset instead (the token's owner has other tools on the
//! same limit), and calls in flight take their share before they are sent, so walkers running
//! side by side do not overshoot together.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::ports::{Clock, SystemClock};

/// The longest a call waits for windows to reset; a longer wait is not made here (the call goes,
/// and a 429 is handled as any other). Within API Gateway's 29 s with a call's own time.
const LONGEST_PACING_WAIT: Duration = Duration::from_secs(20);

/// Which window a call counts against: the host and token it goes with (hashed, so no token is
/// kept in the clear).
pub(super) type WindowKey = [u8; 32];

pub(super) fn window_key(host: &str, authorization: Option<&[u8]>) -> WindowKey {
    let mut hasher = Sha256::new();
    hasher.update(host.as_bytes());
    hasher.update([0]);
    hasher.update(authorization.unwrap_or_default());
    hasher.finalize().into()
}

struct Window {
    limit: u64,
    remaining: u64,
    /// Unix seconds.
    reset_at: u64,
}

impl Window {
    /// Takes one request at `now` (Unix seconds), or says how long until the reset when the
    /// window is down to the tenth kept for the token's other users. A window past its reset
    /// is unknown until GitLab answers again: the request goes.
    fn take(&mut self, now: u64) -> Option<Duration> {
        if now >= self.reset_at {
            return None;
        }
        if self.remaining > self.limit / 10 {
            self.remaining -= 1;
            return None;
        }
        Some(Duration::from_secs(self.reset_at - now))
    }
}

#[derive(Default)]
pub(super) struct Pacer {
    windows: Mutex<HashMap<WindowKey, Window>>,
}

/// The system clock in Unix seconds, as GitLab's `RateLimit-Reset` counts.
pub(super) fn unix_now() -> u64 {
    u64::try_from(SystemClock.now()).unwrap_or(0)
}

impl Pacer {
    /// Takes one request from the key's window, first waiting for its reset while the window
    /// is down to the tenth kept for the token's other users.
    pub(super) async fn before(&self, key: &WindowKey) {
        let began = tokio::time::Instant::now();
        loop {
            let wait = {
                let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
                // Unknown: GitLab's next answer says.
                windows.get_mut(key).and_then(|window| window.take(unix_now()))
            };
            match wait {
                Some(wait) if began.elapsed() + wait <= LONGEST_PACING_WAIT => {
                    tracing::debug!(
                        wait_ms = wait.as_millis() as u64,
                        "pacing GitLab calls to its rate limit"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => return,
            }
        }
    }

    /// Notes what GitLab said of the window. Answers racing each other may arrive out of order:
    /// within one window, the lowest remaining count stands.
    pub(super) fn after(&self, key: &WindowKey, headers: &HeaderMap) {
        let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        let (Some(limit), Some(remaining), Some(reset_at)) = (
            number("ratelimit-limit"),
            number("ratelimit-remaining"),
            number("ratelimit-reset"),
        ) else {
            return;
        };
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry(*key).or_insert(Window {
            limit,
            remaining,
            reset_at,
        });
        if reset_at > window.reset_at {
            *window = Window {
                limit,
                remaining,
                reset_at,
            };
        } else if reset_at == window.reset_at {
            window.limit = limit;
            window.remaining = window.remaining.min(remaining);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(limit: u64, remaining: u64, reset_at: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-limit", limit.into());
        headers.insert("ratelimit-remaining", remaining.into());
        headers.insert("ratelimit-reset", reset_at.into());
        headers
    }

    fn window_of(pacer: &Pacer, key: &WindowKey) -> (u64, u64) {
        let windows = pacer.windows.lock().unwrap();
        let window = &windows[key];
        (window.remaining, window.reset_at)
    }

    #[test]
    fn a_window_keeps_its_last_tenth_and_its_lowest_count() {
        let pacer = Pacer::default();
        let key = window_key("https://gitlab.example.com", Some(b"Bearer t"));
        pacer.after(&key, &told(20, 3, 1_000));
        // An answer sent earlier, arriving later, does not raise the count back.
        pacer.after(&key, &told(20, 9, 1_000));
        assert_eq!(window_of(&pacer, &key), (3, 1_000));
        let mut windows = pacer.windows.lock().unwrap();
        let window = windows.get_mut(&key).unwrap();
        assert_eq!(window.take(990), None, "3 left of 20: one may go");
        assert_eq!(
            window.take(990),
            Some(Duration::from_secs(10)),
            "2 left: kept for others"
        );
        assert_eq!(window.take(1_000), None, "past the reset: unknown, the call goes");
        drop(windows);
        // A new window replaces the old one.
        pacer.after(&key, &told(20, 19, 1_010));
        assert_eq!(window_of(&pacer, &key), (19, 1_010));
        let other = window_key("https://gitlab.example.com", Some(b"Bearer other"));
        assert!(
            !pacer.windows.lock().unwrap().contains_key(&other),
            "each token has its own"
        );
    }
}
