//! Wiring: the application built from its adapters — on AWS (Lambda, or the local runner with
//! AWS settings), on the local runner's durable store, or in memory for tests — and nothing else.

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::secrets_manager::{CachedVault, SecretsManagerVault};
use crate::adapters::sqs::SqsSyncQueue;
use crate::app::Services;
use crate::app::handoff::{BackgroundHandoff, StreamHandoff, run_worker};
use crate::app::sync::jobs::{BackgroundSyncQueue, run_sync_worker};
use crate::config::Config;
use crate::inbound::http::App;
use crate::inbound::http::auth::Authenticator;
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

/// One store that serves every store port (each store adapter does).
pub trait Store:
    IntegrationStore + RepositoryStore + HookStore + WebhookStore + OAuthStateStore + TriggerStore + SyncStore + 'static
{
}

impl<S> Store for S where
    S: IntegrationStore
        + RepositoryStore
        + HookStore
        + WebhookStore
        + OAuthStateStore
        + TriggerStore
        + SyncStore
        + 'static
{
}

/// The adapters an application is built from.
pub struct Backends<S> {
    pub store: Arc<S>,
    pub vault: Arc<dyn SecretVault>,
    pub gitlab: Arc<dyn GitLabApi>,
    pub clock: Arc<dyn Clock>,
    /// The queue sync jobs go to; without one they run as tasks of this process.
    pub sync_queue: Option<Arc<dyn SyncQueue>>,
    pub handoff: Handoff,
}

/// The application over its backends, with the background tasks an in-process hand-off or
/// sync queue needs.
fn assemble<S: Store>(config: Config, backends: Backends<S>) -> App {
    let Backends {
        store,
        vault,
        gitlab,
        clock,
        sync_queue,
        handoff,
    } = backends;
    let auth = Authenticator::new(
        vault.clone(),
        clock.clone(),
        config.caller_key_secret_id.clone(),
        config.token_issuer.clone(),
        config.token_audience.clone(),
        config.max_token_lifetime_secs,
    );
    let (handoff_port, worker): (Arc<dyn TriggerHandoff>, _) = match handoff {
        Handoff::Stream => (Arc::new(StreamHandoff), None),
        Handoff::InProcess => {
            let (port, receiver) = BackgroundHandoff::new();
            (port, Some(receiver))
        }
    };
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
        recent_integrations: Default::default(),
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
    let clients = AwsClients::new(&sdk, &config);
    assemble(
        config,
        clients.backends(gitlab, Arc::new(SystemClock), Handoff::InProcess),
    )
}

/// The application on DynamoDB and Secrets Manager with given SDK settings and clock, as a
/// Lambda runs it: new triggers go through the table's stream.
pub fn aws_app_with(
    sdk: &aws_config::SdkConfig,
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
) -> App {
    let clients = AwsClients::new(sdk, &config);
    assemble(config, clients.backends(gitlab, clock, Handoff::Stream))
}

/// The AWS clients' settings, which tests may extend (with call counters) before building.
pub(crate) struct AwsClients<'a> {
    sdk: &'a aws_config::SdkConfig,
    table: String,
    sync_queue_url: Option<String>,
    pub(crate) dynamodb: aws_sdk_dynamodb::config::Builder,
    pub(crate) secrets: aws_sdk_secretsmanager::config::Builder,
}

impl<'a> AwsClients<'a> {
    pub(crate) fn new(sdk: &'a aws_config::SdkConfig, config: &Config) -> Self {
        AwsClients {
            sdk,
            table: config.table_name.clone(),
            sync_queue_url: config.sync_queue_url.clone(),
            dynamodb: aws_sdk_dynamodb::config::Builder::from(sdk),
            secrets: aws_sdk_secretsmanager::config::Builder::from(sdk),
        }
    }

    pub(crate) fn backends(
        self,
        gitlab: Arc<dyn GitLabApi>,
        clock: Arc<dyn Clock>,
        handoff: Handoff,
    ) -> Backends<DynamoStore> {
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(self.dynamodb.build()),
            self.table,
        ));
        let vault = Arc::new(CachedVault::new(
            SecretsManagerVault::new(aws_sdk_secretsmanager::Client::from_conf(self.secrets.build())),
            SECRET_CACHE_TTL,
        ));
        let sync_queue = self
            .sync_queue_url
            .map(|url| Arc::new(SqsSyncQueue::new(aws_sdk_sqs::Client::new(self.sdk), url)) as Arc<dyn SyncQueue>);
        Backends {
            store,
            vault,
            gitlab,
            clock,
            sync_queue,
            handoff,
        }
    }
}

/// The local runner's application on its data folder's durable store and sealed vault. The
/// caller-token key is placed in the vault; the webhook master key is made on first start and
/// kept. Work the previous process left queued is queued again. The runner sweeps expired
/// items on a timer of its own.
///
/// # Errors
/// When the vault cannot be read or written, or holds a master key too short to use.
#[cfg(feature = "embedded")]
pub async fn local_app(
    config: Config,
    gitlab: Arc<dyn GitLabApi>,
    clock: Arc<dyn Clock>,
    signing_key: &secrecy::SecretString,
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
    let backends = Backends {
        store: Arc::new(store),
        vault: Arc::new(vault),
        gitlab,
        clock,
        sync_queue: None,
        handoff: Handoff::InProcess,
    };
    let app = assemble(config, backends);
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
    Ok(app)
}

/// The GitLab client, one per container (its HTTP client is made on first use).
pub fn gitlab_client() -> Arc<dyn GitLabApi> {
    Arc::new(HttpGitLab::new())
}

#[cfg(feature = "test-support")]
mod test_support;
#[cfg(feature = "test-support")]
pub use test_support::{aws_app_counted, memory_app};
