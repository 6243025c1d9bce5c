//! The Lambda entry points every function's `main` calls, over one start-up: logs and metrics
//! set up, configuration read and clients built once per container, before the first event.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Request, RequestExt, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgeEvents;
use crate::app::deadline::{deadline_of, within};
use crate::config::Config;
use crate::inbound::http::App;
use crate::inbound::http::routes::RouteId;
use crate::ports::SystemClock;
use crate::wiring::{aws_app_with, gitlab_client};

type Error = lambda_http::Error;

/// What a function starts with: the application, and the SDK settings its clients share.
struct Started {
    app: App,
    sdk: aws_config::SdkConfig,
}

impl Started {
    /// The bus the function publishes on (`BUILD_EVENT_BUS_NAME`, required for `purpose`).
    fn bus(&self, purpose: &str) -> Result<EventBridgeEvents, Error> {
        let name = self
            .app
            .services
            .config
            .build_event_bus
            .clone()
            .ok_or_else(|| format!("BUILD_EVENT_BUS_NAME is required for {purpose}"))?;
        Ok(EventBridgeEvents::new(
            aws_sdk_eventbridge::Client::new(&self.sdk),
            name,
        ))
    }

    /// The table itself, for work on its shape rather than through the ports.
    fn table(&self) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.app.services.config.table_name.clone(),
        )
    }
}

/// The one start-up: logs and metrics set up, configuration read, clients built.
async fn start() -> Result<Started, Error> {
    init_json_logs();
    let config = Config::from_env()?;
    crate::telemetry::install(&config.metrics_namespace);
    let sdk = crate::adapters::sdk_settings::lambda_config_loader().load().await;
    let app = aws_app_with(&sdk, config, gitlab_client(), Arc::new(SystemClock));
    Ok(Started { app, sdk })
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

/// Runs a non-HTTP function: each event handled within the invocation's deadline, metrics
/// flushed after each.
async fn run_events<E, R, F, Fut>(handle: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<E>| async move {
        let deadline = deadline_of(&event.context);
        let answer = within(deadline, handle(event)).await;
        crate::telemetry::flush_to_stdout();
        answer
    }))
    .await
}

/// The entry point of every route's function: one route served.
pub async fn serve_lambda(route: RouteId) -> Result<(), Error> {
    let Started { app, .. } = start().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        // Use cases that must not be cut half-way (a token refresh) look at the time left.
        let response = match req.lambda_context_ref().map(deadline_of) {
            Some(deadline) => within(deadline, app.handle_route(route, req)).await,
            None => app.handle_route(route, req).await,
        };
        crate::telemetry::flush_to_stdout();
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// The entry point of the hand-off function on the table's stream.
pub async fn serve_trigger_stream() -> Result<(), Error> {
    let started = start().await?;
    let (services, events) = (&started.app.services, &started.bus("the hand-off")?);
    run_events(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            Ok(crate::inbound::dynamodb_stream::hand_off_records(services, events, event.payload).await)
        },
    )
    .await
}

/// The entry point of the daily token check, on an EventBridge schedule: every integration's
/// token is checked and `Token Expiring` published for what expires within 30 days.
pub async fn serve_token_check() -> Result<(), Error> {
    let started = start().await?;
    let (services, events) = (&started.app.services, &started.bus("the token check")?);
    run_events(
        move |_: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>| async move {
            Ok(crate::inbound::schedule::check_tokens(services, events).await?)
        },
    )
    .await
}

/// The entry point of the claim expiry, on an EventBridge schedule every minute: claims past
/// `CLAIM_TIMEOUT_SECONDS` are queued again and their clone credentials revoked.
pub async fn serve_claim_expiry() -> Result<(), Error> {
    let started = start().await?;
    let services = &started.app.services;
    run_events(
        move |_: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>| async move {
            Ok(crate::inbound::schedule::expire_claims(services).await?)
        },
    )
    .await
}

/// The entry point of the storage migration, on an EventBridge schedule: moves what was stored
/// before a delivery was one item, until its marker says done (then each run is one read).
pub async fn serve_storage_migration() -> Result<(), Error> {
    let started = start().await?;
    let (table, retention) = (started.table(), started.app.services.config.delivery_retention_secs);
    let table = &table;
    run_events(
        move |event: LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>| async move {
            let deadline = deadline_of(&event.context);
            // Boxed: the scan loop's future is too deep to lay out inline in `main`.
            let progress = Box::pin(table.migrate_storage_shape(retention, Some(deadline))).await?;
            tracing::info!(
                moved = progress.triggers_moved,
                done = progress.done,
                "storage migration ran"
            );
            Ok(progress)
        },
    )
    .await
}

/// The entry point of the sync worker, fed by the sync queue: each message is one job, run
/// until the invocation's deadline nears; a job that fails is reported for SQS to retry (and,
/// after its retries, to set aside in the dead-letter queue).
pub async fn serve_sync_worker() -> Result<(), Error> {
    let started = start().await?;
    let services = &started.app.services;
    run_events(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            let deadline = deadline_of(&event.context);
            Ok(crate::inbound::sync_queue::run_messages(services, event.payload, Some(deadline)).await)
        },
    )
    .await
}
