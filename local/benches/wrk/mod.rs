//! The intake measured the way the daemon was: wrk (one connection per thread) sends pushes of
//! new commits to the running runner, and its own figures are read back from its output.

use std::path::Path;
use std::process::Command;

/// What one wrk run measured.
pub struct WrkRun {
    pub requests: u64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers other than 2xx or 3xx (wrk prints the count only when there are any).
    pub not_ok: u64,
}

/// Whether wrk is on the PATH (`scripts/bench.sh` installs it).
pub fn installed() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("wrk").is_file()))
}

/// Writes the push payload wrk sends, its commit left as the placeholder the script fills in.
pub fn write_body(template: &serde_json::Value, path: &Path) {
    let mut push = template.clone();
    push["after"] = "__COMMIT__".into();
    push["checkout_sha"] = "__COMMIT__".into();
    std::fs::write(path, serde_json::to_vec(&push).unwrap()).unwrap();
}

/// Runs wrk for `seconds` with `connections` connections (one thread each) against `base`.
pub fn run(base: &str, secret: &str, body: &Path, connections: usize, seconds: u64, run: u8) -> WrkRun {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/wrk/push.lua");
    let output = Command::new("wrk")
        .args(["-t", &connections.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--latency", "-s", script, base])
        .env("PUSH_BODY", body)
        .env("PUSH_SECRET", secret)
        .env("PUSH_RUN", run.to_string())
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    parse(&text)
}

fn parse(text: &str) -> WrkRun {
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    WrkRun {
        requests,
        rate: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        p50_ms: field("50%").map_or(0.0, millis),
        p99_ms: field("99%").map_or(0.0, millis),
        not_ok: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

/// wrk's durations: `812.00us`, `4.75ms`, `1.02s`.
fn millis(value: &str) -> f64 {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (value, 1.0)
    };
    number.parse::<f64>().unwrap_or(0.0) * scale
}
