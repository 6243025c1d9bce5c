//! Wiring: the application built on AWS (Lambda, or the local runner with AWS settings) or on
//! the embedded adapters, and the Lambda entry point every function's `main` calls.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Request, service_fn};
use secrecy::SecretString;

use crate::adapters::aws_calls::AwsCallCounter;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::memory::{MemoryStore, MemoryVault};
use crate::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use crate::app::Services;
use crate::config::Config;
use crate::http::App;
use crate::http::auth::Authenticator;
use crate::http::routes::RouteId;
use crate::ports::{
    Clock, GitLabApi, IntegrationStore, OAuthStateStore, RepositoryStore, SecretVault, SystemClock, WebhookStore,
};

/// How long a warm container trusts a secret it read.
pub const SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

/// The application over one store that serves every store port (both store adapters do).
fn assemble<S>(
    config: Config,
    store: Arc<S>,
    vault: Arc<dyn SecretVault>,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App
where
    S: IntegrationStore + RepositoryStore + WebhookStore + OAuthStateStore + 'static,
{
    let auth = Authenticator::new(
        vault.clone(),
        clock.clone(),
        config.caller_key_secret_id.clone(),
        config.token_issuer.clone(),
        config.token_audience.clone(),
    );
    let services = Services {
        integrations: store.clone(),
        repositories: store.clone(),
        webhooks: store.clone(),
        oauth_states: store,
        vault,
        gitlab,
        clock,
        config: Arc::new(config),
    };
    App { services, auth }
}

/// The application on DynamoDB and Secrets Manager, with clients built from the environment
/// (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` when pointed at an emulator).
pub async fn aws_app(config: Config, gitlab: Arc<dyn GitLabApi>) -> App {
    let sdk = crate::adapters::sdk_settings::sdk_config_loader().load().await;
    aws_app_with(&sdk, config, gitlab, Arc::new(SystemClock))
}

/// The application on DynamoDB and Secrets Manager with given SDK settings and clock.
pub fn aws_app_with(
    sdk: &aws_config::SdkConfig,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App {
    aws_app_from(
        aws_sdk_dynamodb::config::Builder::from(sdk).build(),
        aws_sdk_secretsmanager::config::Builder::from(sdk).build(),
        config,
        gitlab,
        clock,
    )
}

/// The same with a counter on both AWS clients, for the tests and benches that hold a request
/// path to its budget of AWS calls. Production never installs it.
pub fn aws_app_counted(
    sdk: &aws_config::SdkConfig,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> (App, AwsCallCounter) {
    let counter = AwsCallCounter::default();
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(counter.dynamodb_interceptor())
        .build();
    let secrets = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .interceptor(counter.secrets_manager_interceptor())
        .build();
    (aws_app_from(dynamodb, secrets, config, gitlab, clock), counter)
}

fn aws_app_from(
    dynamodb: aws_sdk_dynamodb::Config,
    secrets: aws_sdk_secretsmanager::Config,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App {
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        config.table_name.clone(),
    ));
    let vault = Arc::new(CachedVault::new(
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::from_conf(secrets)),
        SECRET_CACHE_TTL,
    ));
    assemble(config, store, vault, gitlab, clock)
}

/// The application on the embedded store and vault, with the caller-token key placed in the
/// vault and a webhook master key made for this process.
pub async fn embedded_app(
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    signing_key: &SecretString,
) -> App {
    let vault = Arc::new(MemoryVault::default());
    vault
        .create_secret(&config.caller_key_secret_id, signing_key)
        .await
        .expect("a fresh embedded vault accepts the signing key");
    vault
        .create_secret(
            &config.master_key_secret_id,
            &crate::domain::secrets::generate_master_key(),
        )
        .await
        .expect("a fresh embedded vault accepts the webhook master key");
    assemble(config, Arc::new(MemoryStore::default()), vault, gitlab, clock)
}

/// The GitLab client, one per container (its HTTP client is made on first use).
pub fn gitlab_client() -> Arc<dyn GitLabApi> {
    Arc::new(HttpGitLab::new())
}

/// Logs as JSON lines for CloudWatch; `RUST_LOG` sets the level (default info).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// The entry point of every function: config read and clients built once, then one route served.
pub async fn serve_lambda(route: RouteId) -> Result<(), lambda_http::Error> {
    init_json_logs();
    let config = Config::from_env()?;
    let sdk = crate::adapters::sdk_settings::lambda_config_loader().load().await;
    let app = aws_app_with(&sdk, config, gitlab_client(), Arc::new(SystemClock));
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(app.handle_route(route, req).await)
    }))
    .await
}
