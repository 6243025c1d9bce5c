//! `oore-local`: every route on 127.0.0.1:8787, a caller token for it, or a fake GitLab to try it against.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oore_local::fake_gitlab::{FakeGitLab, FakeOptions, FakeToken, TokenState};
use secrecy::SecretString;
use shared::config::Config;
use shared::inbound::http::auth::{Role, issue_token};
use shared::ports::{Clock, SecretVault, SystemClock};

const USAGE: &str = "usage:
  oore-local [serve]                     serve every route on OORE_LISTEN (default 127.0.0.1:8787)
  oore-local token [--role owner|admin|developer|qa_viewer|runner] [--user ID] [--ttl SECONDS]
                                         print a caller token for the running service
  oore-local fake-gitlab [--port 9090] [--projects 25] [--delay-ms 0] [--prefix /gitlab]
                         [--callback URL]
                                         run a fake GitLab with ready-made tokens and an OAuth app

Settings (environment): TABLE_NAME switches from the embedded store to DynamoDB and Secrets
Manager (with AWS_REGION, credentials, and AWS_ENDPOINT_URL for an emulator);
CALLER_KEY_SECRET_ID, MASTER_KEY_SECRET_ID, SECRET_PREFIX, PUBLIC_BASE_URL, GITLAB_HTTP_LOOPBACK (default true here),
GITLAB_HTTP_HOSTS, ALLOWED_UI_ORIGINS (default: the runner's own origin), SYNC_CONCURRENCY, CLAIM_TIMEOUT_SECONDS, STATUS_NAME, BUILD_DRAFT_MERGE_REQUESTS, MERGE_REQUEST_NOTES, TOKEN_ISSUER, TOKEN_AUDIENCE, OORE_LOCAL_DIR (the data
folder: the embedded store, its vault key and the caller key; default ./.oore-local), RUST_LOG.";

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn aws_mode() -> bool {
    env("TABLE_NAME").is_some()
}

/// The runner's settings: the environment, with local defaults for what it leaves out.
fn local_config() -> Result<Config, shared::config::ConfigError> {
    let listen = env("OORE_LISTEN").unwrap_or_else(|| "127.0.0.1:8787".into());
    Config::from_lookup(|name| {
        env(name).or_else(|| match name {
            "TABLE_NAME" => Some("oore-gitlab-local".into()),
            "CALLER_KEY_SECRET_ID" => Some("oore-gitlab/caller-key".into()),
            "MASTER_KEY_SECRET_ID" => Some("oore-gitlab/master-key".into()),
            "PUBLIC_BASE_URL" => Some(format!("http://{listen}")),
            "ALLOWED_UI_ORIGINS" => Some(format!("http://{listen}")),
            "GITLAB_HTTP_LOOPBACK" => Some("true".into()),
            _ => None,
        })
    })
}

/// The data folder: `OORE_LOCAL_DIR`, or `.oore-local` in the working directory.
fn data_dir() -> PathBuf {
    PathBuf::from(env("OORE_LOCAL_DIR").unwrap_or_else(|| ".oore-local".into()))
}

/// The embedded caller key, made on first use and kept so tokens survive restarts.
fn local_key() -> Result<SecretString, Box<dyn std::error::Error>> {
    oore_local::caller_key::key_in(&data_dir())
}

async fn aws_vault() -> shared::adapters::secrets_manager::SecretsManagerVault {
    let sdk = shared::adapters::sdk_settings::sdk_config_loader().load().await;
    shared::adapters::secrets_manager::SecretsManagerVault::new(aws_sdk_secretsmanager::Client::new(&sdk))
}

/// The key tokens are signed with: the embedded file, or the secret in Secrets Manager.
async fn signing_key(config: &Config) -> Result<SecretString, Box<dyn std::error::Error>> {
    if !aws_mode() {
        return local_key();
    }
    let vault = aws_vault().await;
    if let Some(key) = vault.get_secret(&config.caller_key_secret_id).await? {
        return Ok(key);
    }
    if env("AWS_ENDPOINT_URL").is_none() {
        return Err(format!(
            "the secret {} does not exist; deploy the stack first",
            config.caller_key_secret_id
        )
        .into());
    }
    // A fresh emulator: make the key the template would have made.
    let key = local_key()?;
    vault.create_secret(&config.caller_key_secret_id, &key).await?;
    Ok(key)
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let config = local_config()?;
    let key = signing_key(&config).await?;
    // Refuse to start rather than sign tokens anyone could forge.
    shared::domain::secrets::require_strong_key("caller-token signing key", &key)?;
    let listen = env("OORE_LISTEN").unwrap_or_else(|| "127.0.0.1:8787".into());
    let issuer = config.token_issuer.clone();
    let audience = config.token_audience.clone();
    let app = if aws_mode() {
        if env("AWS_ENDPOINT_URL").is_some() {
            let sdk = shared::adapters::sdk_settings::sdk_config_loader().load().await;
            oore_local::aws_setup::ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), &config.table_name).await?;
            // A fresh emulator: make the webhook master key the template would have made.
            let vault = aws_vault().await;
            if vault.get_secret(&config.master_key_secret_id).await?.is_none() {
                vault
                    .create_secret(
                        &config.master_key_secret_id,
                        &shared::domain::secrets::generate_master_key(),
                    )
                    .await?;
            }
        }
        if let Some(master) = aws_vault().await.get_secret(&config.master_key_secret_id).await? {
            shared::domain::secrets::require_strong_key("master key", &master)?;
        }
        shared::wiring::aws_app(config, shared::wiring::gitlab_client()).await
    } else {
        // Only the embedded store is opened (and locked); AWS mode never touches it.
        let data = shared::adapters::embedded::LocalData::open(&data_dir())?;
        tokio::spawn(oore_local::timers::sweep_periodically(
            data.store.clone(),
            Arc::new(SystemClock),
        ));
        shared::wiring::local_app(
            config,
            shared::wiring::gitlab_client(),
            Arc::new(SystemClock),
            &key,
            data,
        )
        .await
        .map_err(|err| err.to_string())?
    };
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tokio::spawn(oore_local::timers::check_tokens_daily(app.services.clone()));
    tokio::spawn(oore_local::timers::expire_claims_periodically(app.services.clone()));
    let token = issue_token(
        &key,
        "local-owner",
        Role::Owner,
        &issuer,
        &audience,
        SystemClock.now(),
        12 * 3600,
    )?;
    let store = if aws_mode() {
        format!("DynamoDB table {}", app.services.config.table_name)
    } else {
        format!("embedded store in {}", data_dir().display())
    };
    println!("Oore GitLab integration listening on http://{listen} ({store})");
    println!("Owner token (12 hours; `oore-local token --role developer` makes others):\n  export OORE_TOKEN={token}");
    oore_local::server::serve(listener, app, oore_local::server::stop_signal()).await?;
    // The store closes as the runtime drops the tasks holding it: a clean close needs no
    // repair at the next start.
    eprintln!("oore-local: stopped");
    Ok(())
}

async fn token(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let config = local_config()?;
    let key = signing_key(&config).await?;
    let role: Role = serde_json::from_value(serde_json::Value::String(
        flag(args, "--role").unwrap_or_else(|| "owner".into()),
    ))
    .map_err(|_| "--role must be owner, admin, developer, qa_viewer or runner")?;
    let user = flag(args, "--user").unwrap_or_else(|| "local-owner".into());
    let ttl: i64 = flag(args, "--ttl").map(|t| t.parse()).transpose()?.unwrap_or(12 * 3600);
    println!(
        "{}",
        issue_token(
            &key,
            &user,
            role,
            &config.token_issuer,
            &config.token_audience,
            SystemClock.now(),
            ttl
        )?
    );
    Ok(())
}

async fn fake_gitlab(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = flag(args, "--port").map(|p| p.parse()).transpose()?.unwrap_or(9090);
    let options = FakeOptions {
        prefix: flag(args, "--prefix").unwrap_or_default(),
        projects: flag(args, "--projects").map(|p| p.parse()).transpose()?.unwrap_or(25),
        delay: Duration::from_millis(flag(args, "--delay-ms").map(|p| p.parse()).transpose()?.unwrap_or(0)),
    };
    let fake = FakeGitLab::start(options, port).await?;
    let tokens = [
        ("glpat-local-api", FakeToken::live(&["api"])),
        ("glpat-local-readonly", FakeToken::live(&["read_api"])),
        (
            "glpat-local-expired",
            FakeToken {
                state: TokenState::Expired,
                ..FakeToken::live(&["api"])
            },
        ),
        (
            "glpat-local-revoked",
            FakeToken {
                state: TokenState::Revoked,
                ..FakeToken::live(&["api"])
            },
        ),
    ];
    for (name, spec) in &tokens {
        fake.state.add_token(name, spec.clone());
    }
    let callback =
        flag(args, "--callback").unwrap_or_else(|| "http://127.0.0.1:8787/v1/integrations/gitlab/callback".into());
    fake.state
        .oauth
        .add_app("oore-local-app", "oore-local-app-secret", &callback);
    println!(
        "Fake GitLab at {} with {} projects",
        fake.base_url,
        fake.state.project_count()
    );
    println!("OAuth application: client id oore-local-app, secret oore-local-app-secret, redirect URI {callback}");
    println!("Tokens: glpat-local-api (api scope), glpat-local-readonly (read_api only: refused for scopes),");
    println!("        glpat-local-expired, glpat-local-revoked (GitLab's two 401 shapes)");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// The runner's log lines: plain text without colour codes (they end up in files and pipes).
fn log_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
}

#[tokio::main]
async fn main() {
    let _ = tracing::subscriber::set_global_default(log_subscriber(std::io::stderr));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("token") => token(&args).await,
        Some("fake-gitlab") => fake_gitlab(&args).await,
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        eprintln!("oore-local: {err}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn log_lines_carry_no_colour_codes() {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = lines.clone();
        let subscriber = log_subscriber(move || SharedBuffer(sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(route = "/v1/integrations", "a line with fields");
        });
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert!(text.contains("a line with fields") && text.contains("WARN"), "{text}");
        assert!(!text.contains('\u{1b}'), "colour codes in {text:?}");
    }

    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
