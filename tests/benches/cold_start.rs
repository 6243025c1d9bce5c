//! Cold start the way Lambda does it: a local Lambda Runtime API emulator starts a function's
//! bootstrap and times init (start until the first event is requested) and the first response
//! (start until it is posted), for a lambda_runtime hello-world and for our webhook and list
//! functions side by side; then peak RSS, and the size of every arm64 bootstrap `sam build`
//! made and of its zip. Prints numbers; asserts nothing about speed.
//!
//! Run: `scripts/bench.sh --bench cold_start` (moto for the functions' AWS calls; after
//! `sam build` for the arm64 sizes). The timed binaries are built for this machine in release.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oore_gitlab_tests::{moto_sdk, moto_table};
use secrecy::SecretString;
use shared::ports::SecretVault;

const RUNS: usize = 30;
const FUNCTION_ENV_MEMORY: &str = "256";

/// What the emulator saw of one start.
#[derive(Default)]
struct Observed {
    event: String,
    first_next: Option<Instant>,
    response: Option<(Instant, String)>,
    init_error: Option<String>,
    served: bool,
}

type Shared = Arc<Mutex<Observed>>;

async fn next(State(state): State<Shared>) -> Response {
    let event = {
        let mut s = state.lock().unwrap();
        s.first_next.get_or_insert_with(Instant::now);
        if s.served {
            None
        } else {
            s.served = true;
            Some(s.event.clone())
        }
    };
    let Some(event) = event else {
        // One event per start: the runtime then waits here until it is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    (
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", "bench-request-1".to_string()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench".to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_string(),
            ),
        ],
        event,
    )
        .into_response()
}

async fn response(State(state): State<Shared>, body: String) -> StatusCode {
    state.lock().unwrap().response = Some((Instant::now(), body));
    StatusCode::ACCEPTED
}

async fn init_error(State(state): State<Shared>, _headers: HeaderMap, body: String) -> StatusCode {
    state.lock().unwrap().init_error = Some(body);
    StatusCode::ACCEPTED
}

/// One cold start of `binary` answering `event`: (init, first response, peak RSS in KiB, status).
async fn cold_start(binary: &Path, event: &str, env: &HashMap<String, String>) -> (Duration, Duration, u64, String) {
    let state: Shared = Arc::new(Mutex::new(Observed {
        event: event.to_string(),
        ..Default::default()
    }));
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(response))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    // Only what Lambda's environment holds: no inherited variables.
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let deadline = started + Duration::from_secs(30);
    let answered = loop {
        if let Some((at, body)) = state.lock().unwrap().response.clone() {
            break (at, body);
        }
        if let Some(err) = state.lock().unwrap().init_error.clone() {
            panic!("{} failed to start: {err}", binary.display());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not answer within 30 s",
            binary.display()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let peak_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    let init = state.lock().unwrap().first_next.unwrap() - started;
    let status = serde_json::from_str::<serde_json::Value>(&answered.1)
        .ok()
        .and_then(|v| v.get("statusCode").map(|s| s.to_string()))
        .unwrap_or_else(|| "-".into());
    (init, answered.0 - started, peak_kib, status)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the timed binaries for this machine, release profile, in the workspace's target dir.
fn build_host_binaries(names: &[&str]) -> PathBuf {
    let root = workspace_root();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.current_dir(&root).args(["build", "--release", "--quiet"]);
    for name in names {
        cargo.args(["--bin", name]);
    }
    assert!(cargo.status().expect("cargo runs").success(), "release build failed");
    let metadata = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    PathBuf::from(metadata["target_directory"].as_str().unwrap()).join("release")
}

fn event(name: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(workspace_root().join("events").join(format!("{name}.json"))).unwrap();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text
}

/// The zip Lambda would get: the bootstrap alone, deflated.
fn zip_size(bootstrap: &Path) -> u64 {
    let out = Command::new("python3")
        .args(["-c", "import io,sys,zipfile; b=io.BytesIO(); z=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED); z.write(sys.argv[1],'bootstrap'); z.close(); print(len(b.getvalue()))"])
        .arg(bootstrap)
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_arm64_sizes() {
    let build = workspace_root().join(".aws-sam/build");
    let template = std::fs::read_to_string(workspace_root().join("infra/template.yaml")).unwrap();
    let functions: Vec<&str> = template
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix("Function:"))
        .collect();
    let mut largest_zip = 0;
    let mut found = 0;
    for function in &functions {
        let bootstrap = build.join(format!("{function}Function")).join("bootstrap");
        let Ok(meta) = std::fs::metadata(&bootstrap) else {
            continue;
        };
        found += 1;
        let zip = zip_size(&bootstrap);
        largest_zip = largest_zip.max(zip);
        println!(
            "arm64 bootstrap {:<28} {:>6.2} MiB   zip {:>6.2} MiB",
            format!("{function}Function"),
            mib(meta.len()),
            mib(zip)
        );
    }
    if found == 0 {
        println!("arm64 sizes: no bootstraps in .aws-sam/build (run `sam build` first)");
    } else {
        println!(
            "largest zip: {:.2} MiB of {found} functions (target <= 6 MB)",
            mib(largest_zip)
        );
    }
}

#[tokio::main]
async fn main() {
    let binaries = ["hello-lambda", "gitlab-webhook", "list-integrations"];
    let release = build_host_binaries(&binaries);

    // The functions talk to moto: a table, the caller key and the master key, as a deploy has them.
    let sdk = moto_sdk().await;
    let table = moto_table(&sdk).await;
    let prefix = format!("bench-{}/", uuid::Uuid::new_v4().simple());
    let vault = shared::adapters::secrets_manager::SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let caller_key = SecretString::from("bench-caller-key-0123456789abcdef".to_string());
    vault
        .create_secret(&format!("{prefix}caller-key"), &caller_key)
        .await
        .unwrap();
    vault
        .create_secret(
            &format!("{prefix}master-key"),
            &SecretString::from("bench-master-key-0123456789abcdef".to_string()),
        )
        .await
        .unwrap();
    let mut env: HashMap<String, String> = [
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", FUNCTION_ENV_MEMORY),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("RUST_LOG", "warn"),
        // Lambda's provided.al2023 keeps its roots in one bundle file; point the TLS stacks at
        // this machine's bundle so they read one file too, not a directory of hundreds.
        ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.insert("AWS_ENDPOINT_URL".into(), oore_gitlab_tests::moto_endpoint());
    env.insert("TABLE_NAME".into(), table);
    env.insert("SECRET_PREFIX".into(), prefix.clone());
    env.insert("CALLER_KEY_SECRET_ID".into(), format!("{prefix}caller-key"));
    env.insert("MASTER_KEY_SECRET_ID".into(), format!("{prefix}master-key"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = shared::inbound::http::auth::issue_token(
        &caller_key,
        "bench",
        shared::inbound::http::auth::Role::Owner,
        "oore",
        "oore-gitlab",
        now,
        3600,
    )
    .expect("the test key is 32 bytes or more");
    let cases = [
        ("hello-lambda", r#"{"hello":"world"}"#.to_string()),
        (
            "gitlab-webhook",
            event("gitlab-webhook", &[("${WEBHOOK_SECRET}", "oore_not-a-secret")]),
        ),
        (
            "list-integrations",
            event("list-integrations", &[("${OORE_TOKEN}", &token)]),
        ),
    ];

    // Round-robin, so that whatever else the machine does weighs on the three alike.
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>, u64, String)> =
        cases.iter().map(|_| Default::default()).collect();
    for _ in 0..RUNS {
        for ((name, event), sample) in cases.iter().zip(samples.iter_mut()) {
            let (init, first, rss, answered) = cold_start(&release.join(name), event, &env).await;
            sample.0.push(init);
            sample.1.push(first);
            sample.2 = sample.2.max(rss);
            sample.3 = answered;
        }
    }
    let mut baseline = None;
    for ((name, _), (inits, firsts, peak, status)) in cases.iter().zip(samples) {
        let (init, first) = (median(inits), median(firsts));
        let (base_init, base_first) = *baseline.get_or_insert((init, first));
        println!(
            "cold start {name:<18} init {:>6.2} ms  first response {:>6.2} ms  (x{:.2} / x{:.2} of hello-world)  peak RSS {:>5.1} MiB  status {status}  size {:.2} MiB (host build, median of {RUNS})",
            init.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
            init.as_secs_f64() / base_init.as_secs_f64(),
            first.as_secs_f64() / base_first.as_secs_f64(),
            peak as f64 / 1024.0,
            mib(std::fs::metadata(release.join(name)).map(|m| m.len()).unwrap_or(0)),
        );
    }
    println!("targets: init ratio <= 2x, every zip <= 6 MB, peak RSS <= 40 MB");
    print_arm64_sizes();
}
