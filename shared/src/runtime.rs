//! Wiring: the application built on AWS (Lambda, or the local runner with AWS settings) or on
//! the embedded adapters, and the Lambda entry points every function's `main` calls.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Request, RequestExt, service_fn};
use secrecy::SecretString;

use crate::adapters::aws_calls::AwsCallCounter;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgeEvents;
use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::memory::{MemoryStore, MemoryVault};
use crate::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use crate::adapters::sqs::SqsSyncQueue;
use crate::app::Services;
use crate::app::handoff::{BackgroundHandoff, StreamHandoff, run_worker};
use crate::app::sync_jobs::{BackgroundSyncQueue, run_sync_worker};
use crate::config::Config;
use crate::http::App;
use crate::http::auth::Authenticator;
use crate::http::routes::RouteId;
use crate::ports::{
    Clock, GitLabApi, HookStore, IntegrationStore, OAuthStateStore, RepositoryStore, SecretVault, SyncQueue, SyncStore,
    SystemClock, TriggerHandoff, TriggerStore, WebhookStore,
};

/// How long a warm container trusts a secret it read.
pub const SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

/// How new triggers are handed off (pending status, event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// By the table's stream, to a function of its own (Lambda).
    Stream,
    /// By a background task of this process (the local runner).
    InProcess,
}

/// The application over one store that serves every store port (both store adapters do).
fn assemble<S>(
    config: Config,
    store: Arc<S>,
    handoff: Handoff,
    sync_queue: Option<Arc<dyn SyncQueue>>,
    vault: Arc<dyn SecretVault>,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App
where
    S: IntegrationStore
        + RepositoryStore
        + HookStore
        + WebhookStore
        + OAuthStateStore
        + TriggerStore
        + SyncStore
        + 'static,
{
    let auth = Authenticator::new(
        vault.clone(),
        clock.clone(),
        config.caller_key_secret_id.clone(),
        config.token_issuer.clone(),
        config.token_audience.clone(),
    );
    let (handoff_port, worker): (Arc<dyn TriggerHandoff>, _) = match handoff {
        Handoff::Stream => (Arc::new(StreamHandoff), None),
        Handoff::InProcess => {
            let (port, receiver) = BackgroundHandoff::new();
            (port, Some(receiver))
        }
    };
    // Without a queue, sync jobs run as tasks of this process.
    let (sync_queue, sync_worker): (Arc<dyn SyncQueue>, _) = match sync_queue {
        Some(queue) => (queue, None),
        None => {
            let (queue, receiver) = BackgroundSyncQueue::new();
            (queue, Some(receiver))
        }
    };
    let services = Services {
        integrations: store.clone(),
        repositories: store.clone(),
        hooks: store.clone(),
        webhooks: store.clone(),
        oauth_states: store.clone(),
        triggers: store.clone(),
        syncs: store,
        sync_queue,
        handoff: handoff_port,
        vault,
        gitlab,
        clock,
        config: Arc::new(config),
    };
    if let Some(receiver) = worker {
        tokio::spawn(run_worker(services.clone(), receiver));
    }
    if let Some(receiver) = sync_worker {
        tokio::spawn(run_sync_worker(services.clone(), receiver));
    }
    App { services, auth }
}

/// The application on DynamoDB and Secrets Manager for the local runner, with clients built
/// from the environment (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` for an emulator).
/// Triggers are handed off in process.
pub async fn aws_app(config: Config, gitlab: Arc<dyn GitLabApi>) -> App {
    let sdk = crate::adapters::sdk_settings::sdk_config_loader().load().await;
    aws_app_from(&sdk, None, config, gitlab, Arc::new(SystemClock), Handoff::InProcess)
}

/// The application on DynamoDB and Secrets Manager with given SDK settings and clock, as a
/// Lambda runs it: new triggers go through the table's stream.
pub fn aws_app_with(
    sdk: &aws_config::SdkConfig,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App {
    aws_app_from(sdk, None, config, gitlab, clock, Handoff::Stream)
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
    (
        aws_app_from(sdk, Some(&counter), config, gitlab, clock, Handoff::Stream),
        counter,
    )
}

fn aws_app_from(
    sdk: &aws_config::SdkConfig,
    counter: Option<&AwsCallCounter>,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    handoff: Handoff,
) -> App {
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk);
    let mut secrets = aws_sdk_secretsmanager::config::Builder::from(sdk);
    if let Some(counter) = counter {
        dynamodb = dynamodb
            .interceptor(counter.dynamodb_interceptor())
            .interceptor(counter.dynamodb_bytes_interceptor());
        secrets = secrets.interceptor(counter.secrets_manager_interceptor());
    }
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        config.table_name.clone(),
    ));
    let vault = Arc::new(CachedVault::new(
        SecretsManagerVault::new(aws_sdk_secretsmanager::Client::from_conf(secrets.build())),
        SECRET_CACHE_TTL,
    ));
    let sync_queue = config
        .sync_queue_url
        .clone()
        .map(|url| Arc::new(SqsSyncQueue::new(aws_sdk_sqs::Client::new(sdk), url)) as Arc<dyn SyncQueue>);
    assemble(config, store, handoff, sync_queue, vault, gitlab, clock)
}

/// The application on the in-memory store and vault (tests and benches), with the caller-token
/// key placed in the vault and a webhook master key made for this process. Triggers are handed
/// off in process.
pub async fn memory_app(
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    signing_key: &SecretString,
) -> App {
    let vault = Arc::new(MemoryVault::default());
    vault
        .create_secret(&config.caller_key_secret_id, signing_key)
        .await
        .expect("a fresh memory vault accepts the signing key");
    vault
        .create_secret(
            &config.master_key_secret_id,
            &crate::domain::secrets::generate_master_key(),
        )
        .await
        .expect("a fresh memory vault accepts the webhook master key");
    assemble(
        config,
        Arc::new(MemoryStore::default()),
        Handoff::InProcess,
        None,
        vault,
        gitlab,
        clock,
    )
}

/// How often the local runner removes expired deliveries, dedupe markers, OAuth states,
/// finished triggers and sync records (DynamoDB's TTL does it on AWS).
#[cfg(feature = "embedded")]
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(300);

/// The local runner's application on its data folder's durable store and sealed vault. The
/// caller-token key is placed in the vault; the webhook master key is made on first start and
/// kept. Work the previous process left queued is queued again, and expired items are swept
/// at start and every [`SWEEP_INTERVAL`].
///
/// # Errors
/// When the vault cannot be read or written, or holds a master key too short to use.
#[cfg(feature = "embedded")]
pub async fn local_app(
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    signing_key: &SecretString,
    data: crate::adapters::embedded::LocalData,
) -> Result<App, Box<dyn std::error::Error + Send + Sync>> {
    let crate::adapters::embedded::LocalData { store, vault } = data;
    match vault.put_secret(&config.caller_key_secret_id, signing_key).await {
        Err(crate::ports::VaultError::NotFound) => {
            vault.create_secret(&config.caller_key_secret_id, signing_key).await?
        }
        other => other?,
    }
    match vault.get_secret(&config.master_key_secret_id).await? {
        Some(master) => crate::domain::secrets::require_strong_key("webhook master key", &master)?,
        None => {
            vault
                .create_secret(
                    &config.master_key_secret_id,
                    &crate::domain::secrets::generate_master_key(),
                )
                .await?
        }
    }
    let app = assemble(
        config,
        Arc::new(store.clone()),
        Handoff::InProcess,
        None,
        Arc::new(vault),
        gitlab,
        clock.clone(),
    );
    let services = app.services.clone();
    tokio::spawn(async move {
        match crate::app::resume::resume_unfinished_work(&services).await {
            Ok(resumed) if resumed != Default::default() => tracing::info!(
                sync_passes = resumed.sync_passes,
                purges = resumed.purges,
                handoffs = resumed.handoffs,
                "work left by the previous run queued again"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "work left by the previous run could not be read"),
        }
    });
    tokio::spawn(sweep_periodically(store, clock));
    Ok(app)
}

/// Sweeps expired items now and every [`SWEEP_INTERVAL`], logging what went.
#[cfg(feature = "embedded")]
async fn sweep_periodically(store: crate::adapters::embedded::EmbeddedStore, clock: Arc<dyn Clock>) {
    let mut every = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        every.tick().await;
        match store.sweep_expired(clock.now()).await {
            Ok(swept) if swept.total() > 0 => tracing::info!(
                deliveries = swept.deliveries,
                dedupe_markers = swept.dedupe_markers,
                oauth_states = swept.oauth_states,
                triggers = swept.triggers,
                syncs = swept.syncs,
                webhook_keys = swept.webhook_keys,
                "expired items removed"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "the expiry sweep failed; it runs again later"),
        }
    }
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

/// The entry point of every route's function: config read and clients built once, then one
/// route served.
pub async fn serve_lambda(route: RouteId) -> Result<(), lambda_http::Error> {
    init_json_logs();
    let config = Config::from_env()?;
    crate::telemetry::install(&config.metrics_namespace);
    let sdk = crate::adapters::sdk_settings::lambda_config_loader().load().await;
    let app = aws_app_with(&sdk, config, gitlab_client(), Arc::new(SystemClock));
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        // Use cases that must not be cut half-way (a token refresh) look at the time left.
        let response = match req.lambda_context_ref().map(crate::sync_worker::deadline_of) {
            Some(deadline) => crate::app::deadline::within(deadline, app.handle_route(route, req)).await,
            None => app.handle_route(route, req).await,
        };
        crate::telemetry::flush_to_stdout();
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// A Lambda's application and the bus it publishes on (`BUILD_EVENT_BUS_NAME`, required for
/// `purpose`), with logs and metrics set up: what the functions that publish events start with.
async fn app_with_bus(purpose: &str) -> Result<(App, EventBridgeEvents), lambda_http::Error> {
    init_json_logs();
    let config = Config::from_env()?;
    crate::telemetry::install(&config.metrics_namespace);
    let bus = config
        .build_event_bus
        .clone()
        .ok_or_else(|| format!("BUILD_EVENT_BUS_NAME is required for {purpose}"))?;
    let sdk = crate::adapters::sdk_settings::lambda_config_loader().load().await;
    let events = EventBridgeEvents::new(aws_sdk_eventbridge::Client::new(&sdk), bus);
    Ok((
        aws_app_with(&sdk, config, gitlab_client(), Arc::new(SystemClock)),
        events,
    ))
}

/// The entry point of the hand-off function on the table's stream.
pub async fn serve_trigger_stream() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    let (app, events) = app_with_bus("the hand-off").await?;
    let (services, events) = (&app.services, &events);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            let answer = crate::stream::hand_off_records(services, events, event.payload).await;
            crate::telemetry::flush_to_stdout();
            Ok::<_, Infallible>(answer)
        },
    ))
    .await
}

/// The entry point of the daily token check, on an EventBridge schedule: every integration's
/// token is checked and `Token Expiring` published for what expires within 30 days.
pub async fn serve_token_check() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    let (app, events) = app_with_bus("the token check").await?;
    let (services, events) = (&app.services, &events);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>| async move {
            let deadline = crate::sync_worker::deadline_of(&event.context);
            let outcome = crate::app::deadline::within(deadline, check_tokens(services, events)).await;
            crate::telemetry::flush_to_stdout();
            outcome
        },
    ))
    .await
}

/// One scheduled check; a failure to list the integrations fails the invocation (EventBridge
/// retries it).
pub async fn check_tokens(
    services: &crate::app::Services,
    events: &dyn crate::ports::BuildEvents,
) -> Result<serde_json::Value, lambda_http::Error> {
    let summary = crate::app::token_expiry::check_all_tokens(services, Some(events)).await?;
    Ok(serde_json::json!({
        "checked": summary.checked,
        "expiring": summary.expiring,
        "failed": summary.failed,
    }))
}

/// The local runner's daily token check: at start, then once a day (no bus: what expires is
/// logged and shown in the integration's detail).
pub async fn run_daily_token_check(services: crate::app::Services) {
    let mut daily = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        daily.tick().await;
        if let Err(err) = crate::app::token_expiry::check_all_tokens(&services, None).await {
            tracing::warn!(error = %err, "the daily token check could not list the integrations");
        }
    }
}

/// The entry point of the sync worker, fed by the sync queue: each message is one job, run
/// until the invocation's deadline nears; a job that fails is reported for SQS to retry (and,
/// after its retries, to set aside in the dead-letter queue).
pub async fn serve_sync_worker() -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_json_logs();
    let config = Config::from_env()?;
    crate::telemetry::install(&config.metrics_namespace);
    let sdk = crate::adapters::sdk_settings::lambda_config_loader().load().await;
    let app = aws_app_with(&sdk, config, gitlab_client(), Arc::new(SystemClock));
    let services = &app.services;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            let deadline = crate::sync_worker::deadline_of(&event.context);
            let jobs = crate::sync_worker::run_messages(services, event.payload, Some(deadline));
            let answer = crate::app::deadline::within(deadline, jobs).await;
            crate::telemetry::flush_to_stdout();
            Ok::<_, Infallible>(answer)
        },
    ))
    .await
}
