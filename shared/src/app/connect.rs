//! `gitlab-start`: connect a GitLab instance by personal access token or OAuth application.

use secrecy::SecretString;

use crate::app::Services;
use crate::app::master_key::{MasterKeyError, master_key};
use crate::app::sync::jobs::{CONNECT_WAIT, sync_and_wait};
use crate::app::tokens::{TokenVerificationError, verify_personal_token};
use crate::domain::credential::expiry_from_date;
use crate::domain::host::HostUrl;
use crate::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus};
use crate::domain::secrets::Credentials;
use crate::domain::webhook_keys::{IssuedKey, WebhookKey};
use crate::ports::{GitLabError, StoreError, VaultError};

/// What to connect.
pub enum ConnectRequest {
    PersonalToken {
        host: HostUrl,
        token: SecretString,
    },
    OAuthApp {
        host: HostUrl,
        client_id: String,
        client_secret: SecretString,
    },
}

/// A new integration and its integration-wide webhook secret, whose values are shown only now.
pub struct Connected {
    pub integration: IntegrationRecord,
    pub webhook: IssuedKey,
    /// The Standard Webhooks signing key of the webhook secret.
    pub signing_key: [u8; 32],
}

/// Why a connect failed. Nothing is kept when it does.
///
/// # Errors
/// - `Token`: GitLab refused the personal token, would not describe it, or it lacks a scope;
///   the user must bring another token.
/// - `GitLabUnavailable`: GitLab could not be reached for an OAuth application; retry later.
/// - `MasterKey`, `Store`, `Vault`: a backend failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Token(#[from] TokenVerificationError),
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Connects an integration for `created_by`.
pub async fn gitlab_start(
    services: &Services,
    request: ConnectRequest,
    created_by: String,
) -> Result<Connected, ConnectError> {
    match request {
        ConnectRequest::PersonalToken { host, token } => {
            connect_personal_token(services, host, token, created_by).await
        }
        ConnectRequest::OAuthApp {
            host,
            client_id,
            client_secret,
        } => connect_oauth_app(services, host, client_id, client_secret, created_by).await,
    }
}

/// A personal token: checked at GitLab, stored, then the repositories synced once.
async fn connect_personal_token(
    services: &Services,
    host: HostUrl,
    token: SecretString,
    created_by: String,
) -> Result<Connected, ConnectError> {
    // Connect answers within CONNECT_WAIT of its start, GitLab's checks included.
    let started = tokio::time::Instant::now();
    let (user, info) = verify_personal_token(services, &host, &token).await?;
    let master = master_key(services).await?;
    let now = services.clock.now();
    let mut record = IntegrationRecord::new(
        host.clone(),
        AuthMode::PersonalToken,
        IntegrationStatus::Active,
        user.integration_name(&host.host_label()),
        created_by,
        now,
    );
    record.gitlab_user_id = Some(user.id);
    record.token_expires_at = expiry_from_date(info.expires_at.as_deref());
    record.gitlab_scopes = Some(info.scopes.clone());
    record.gitlab_token_id = info.id;
    let webhook = WebhookKey::issue(&record.id, None, now);
    let installation = Installation::for_user(&record.id, &user.username, now);

    store_new_integration(
        services,
        &record,
        Some(&installation),
        &webhook.key,
        &Credentials::personal(token.clone(), 0),
    )
    .await?;

    // The first sync: small accounts are listed when connect answers, larger ones fill in
    // behind it. A failed sync is not fatal: POST …/installations runs another.
    if let Err(err) = sync_and_wait(services, &record.id, CONNECT_WAIT.saturating_sub(started.elapsed())).await {
        tracing::warn!(integration_id = %record.id, error = %err, "the first repository sync could not be started");
    }
    let signing_key = webhook.key.signing_key(&master);
    Ok(Connected {
        integration: record,
        webhook,
        signing_key,
    })
}

/// OAuth application mode: GitLab must answer at the host; the client secret goes to the vault;
/// the integration stays `inactive` until an authorization completes.
async fn connect_oauth_app(
    services: &Services,
    host: HostUrl,
    client_id: String,
    client_secret: SecretString,
    created_by: String,
) -> Result<Connected, ConnectError> {
    services
        .gitlab
        .reachable(&host)
        .await
        .map_err(ConnectError::GitLabUnavailable)?;
    let master = master_key(services).await?;
    let now = services.clock.now();
    let name = format!("GitLab OAuth ({})", host.host_label());
    let mut record = IntegrationRecord::new(
        host,
        AuthMode::OauthApp,
        IntegrationStatus::Inactive,
        name,
        created_by,
        now,
    );
    record.oauth_client_id = Some(client_id);
    record.gitlab_scopes = Some(vec![crate::domain::oauth::SCOPE.to_string()]);
    let webhook = WebhookKey::issue(&record.id, None, now);
    let credentials = Credentials {
        client_secret: Some(client_secret),
        ..Default::default()
    };
    store_new_integration(services, &record, None, &webhook.key, &credentials).await?;
    tracing::info!(integration_id = %record.id, "OAuth application integration created");
    let signing_key = webhook.key.signing_key(&master);
    Ok(Connected {
        integration: record,
        webhook,
        signing_key,
    })
}

/// Secret first, then the records; if the records fail the secret is taken back, so a failed
/// connect leaves nothing behind.
async fn store_new_integration(
    services: &Services,
    record: &IntegrationRecord,
    installation: Option<&Installation>,
    webhook: &WebhookKey,
    credentials: &Credentials,
) -> Result<(), ConnectError> {
    let secret_name = services.config.credentials_secret_name(&record.id);
    services
        .vault
        .create_secret(&secret_name, &credentials.to_secret_json())
        .await?;
    if let Err(err) = services
        .integrations
        .create_integration(record, installation, Some(webhook))
        .await
    {
        if let Err(cleanup) = services.vault.delete_secret(&secret_name).await {
            tracing::error!(integration_id = %record.id, error = %cleanup, "could not remove the secret of a failed connect");
        }
        return Err(err.into());
    }
    Ok(())
}
