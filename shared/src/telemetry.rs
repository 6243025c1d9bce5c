//! The counters operators alarm on, written as CloudWatch embedded metric format (EMF) lines on
//! stdout after each invocation: CloudWatch Logs turns them into metrics, with no API call on the
//! request path. Where no recorder is installed (the local runner, tests that do not ask for one)
//! counting costs nothing.

use std::io::Write;
use std::sync::OnceLock;

use metrics_cloudwatch_embedded::Collector;

/// Webhook deliveries, by `Outcome`: triggered, ignored, duplicate, refused (a 4xx) or failed
/// (a 5xx, which GitLab resends).
pub const DELIVERIES: &str = "WebhookDeliveries";
/// OAuth token refreshes, by `Result`: refreshed, refused (the integration needs a new
/// authorization) or unavailable (GitLab could not be reached).
pub const TOKEN_REFRESHES: &str = "TokenRefreshes";
/// GitLab's answers, by `Status`: the code for 401, 403, 404 and 429, else its class (2xx, 3xx,
/// 4xx, 5xx), or unreachable.
pub const GITLAB_RESPONSES: &str = "GitLabResponses";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the EMF recorder for this process under `namespace`. Installing twice keeps the first.
pub fn install(namespace: &str) {
    if COLLECTOR.get().is_some() {
        return;
    }
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_string())
        .init()
    {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
        }
        Err(err) => tracing::warn!(error = %err, "metrics are not recorded"),
    }
}

/// Writes what was counted since the last flush: one EMF line per set of labels.
pub fn flush(writer: impl Write) {
    if let Some(collector) = COLLECTOR.get()
        && let Err(err) = collector.flush(writer)
    {
        tracing::warn!(error = %err, "metrics could not be written");
    }
}

/// [`flush`] to stdout, where Lambda's log capture picks the lines up.
pub fn flush_to_stdout() {
    flush(std::io::stdout().lock());
}

pub fn count_delivery(outcome: &'static str) {
    metrics::counter!(DELIVERIES, "Outcome" => outcome).increment(1);
}

pub fn count_refresh(result: &'static str) {
    metrics::counter!(TOKEN_REFRESHES, "Result" => result).increment(1);
}

/// Counts one answer from GitLab (`None`: it did not answer).
pub fn count_gitlab_response(status: Option<u16>) {
    let label = match status {
        None => "unreachable",
        Some(401) => "401",
        Some(403) => "403",
        Some(404) => "404",
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(_) => "5xx",
    };
    metrics::counter!(GITLAB_RESPONSES, "Status" => label).increment(1);
}
