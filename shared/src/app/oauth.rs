//! `gitlab-authorize` and `gitlab-callback`: the OAuth application flow with PKCE (S256) and a
//! single-use state kept in the store.

use secrecy::{ExposeSecret, SecretString};

use crate::app::credentials::{CredentialsError, oauth_client, read_credentials, write_credentials};
use crate::app::master_key::{MasterKeyError, master_key};
use crate::app::sync::jobs::{SYNC_WAIT, sync_and_wait};
use crate::app::{LookupError, Services};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus};
use crate::domain::oauth::{
    OAuthClient, PendingAuthorization, SCOPE, STATE_TTL_SECS, check_redirect_url, new_state, pkce_challenge,
    pkce_verifier, state_digest,
};
use crate::domain::secrets::Credentials;
use crate::ports::{GitLabError, StoreError};

/// Codes and states longer than this are not GitLab's.
const MAX_PARAM_LEN: usize = 512;

/// Why an authorization could not be started.
///
/// # Errors
/// - `Lookup`: the integration does not exist, or storage failed.
/// - `NotOAuthApp`: the integration does not use an OAuth application.
/// - `InvalidRedirect`: the UI URL is malformed or its origin is not allowed (the text says why).
/// - `Credentials`: the application's client id is not stored.
/// - `MasterKey`, `Store`: a backend failed; retry later.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("only an oauth_app integration is authorized through GitLab")]
    NotOAuthApp,
    #[error("{0}")]
    InvalidRedirect(String),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts an authorization of `integration_id` for `requested_by`: stores a single-use state
/// and returns GitLab's authorize URL, which sends the browser back to `callback_url`.
pub async fn gitlab_authorize(
    services: &Services,
    integration_id: &IntegrationId,
    redirect_url: &str,
    callback_url: &str,
    requested_by: String,
) -> Result<String, AuthorizeError> {
    let integration = services.integration(integration_id).await?;
    if integration.auth_mode != AuthMode::OauthApp {
        return Err(AuthorizeError::NotOAuthApp);
    }
    let redirect = check_redirect_url(redirect_url, &services.config.allowed_ui_origins)
        .map_err(AuthorizeError::InvalidRedirect)?;
    let client_id = integration.oauth_client_id.clone().ok_or(CredentialsError::Missing)?;

    let master = master_key(services).await?;
    let state = new_state();
    let now = services.clock.now();
    services
        .oauth_states
        .put_oauth_state(&PendingAuthorization {
            state_digest: state_digest(state.expose_secret()),
            integration_id: integration.id.clone(),
            requested_by,
            redirect_url: redirect.to_string(),
            created_at: now,
            expires_at: now + STATE_TTL_SECS,
        })
        .await?;
    let mut url = integration.host_url.join("oauth/authorize");
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", callback_url)
        .append_pair("response_type", "code")
        .append_pair("state", state.expose_secret())
        .append_pair("scope", SCOPE)
        .append_pair(
            "code_challenge",
            &pkce_challenge(&pkce_verifier(&master, state.expose_secret())),
        )
        .append_pair("code_challenge_method", "S256");
    tracing::info!(integration_id = %integration.id, "OAuth authorization started");
    Ok(url.to_string())
}

/// Why an authorization could not be completed. Nothing is stored when it could not.
///
/// # Errors
/// - `MalformedParameters`: the code or state is not one GitLab issues.
/// - `UnknownState`: the state is unknown or was used already.
/// - `ExpiredState`: the state is older than ten minutes.
/// - `OtherIntegration`: the state belongs to another integration than the one named.
/// - `NotOAuthApp`: the integration does not use an OAuth application.
/// - `CodeRefused`: GitLab refused the code (its OAuth error is given).
/// - `AccountMismatch`: another GitLab user than the integration's authorized it.
/// - `GitLabUnavailable`: GitLab could not be reached; retry.
/// - `Lookup`, `Credentials`, `MasterKey`, `Store`: the integration is gone or a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    #[error("the code or state is not one GitLab issues")]
    MalformedParameters,
    #[error("the authorization is unknown or was already used")]
    UnknownState,
    #[error("the authorization has expired")]
    ExpiredState,
    #[error("the authorization belongs to another integration")]
    OtherIntegration,
    #[error("the integration does not use an OAuth application")]
    NotOAuthApp,
    #[error("GitLab refused the authorization code: {0}")]
    CodeRefused(String),
    #[error("another GitLab account authorized the integration")]
    AccountMismatch,
    #[error("GitLab could not be reached: {0}")]
    GitLabUnavailable(GitLabError),
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An authorization GitLab accepted: the now active integration, and the UI URL it started from.
pub struct Authorized {
    pub integration: IntegrationRecord,
    pub redirect_url: String,
}

/// Completes an authorization: takes the state (once), exchanges the code with the PKCE
/// verifier, stores the tokens, marks the integration active and syncs its repositories.
/// `expected_integration` is the integration the caller names, if any.
pub async fn gitlab_callback(
    services: &Services,
    callback_url: &str,
    code: &str,
    state: &str,
    expected_integration: Option<&IntegrationId>,
) -> Result<Authorized, AuthorizationError> {
    if code.len() > MAX_PARAM_LEN || state.len() > MAX_PARAM_LEN {
        return Err(AuthorizationError::MalformedParameters);
    }
    let pending = services
        .oauth_states
        .take_oauth_state(&state_digest(state))
        .await?
        .ok_or(AuthorizationError::UnknownState)?;
    let now = services.clock.now();
    if pending.expires_at <= now {
        return Err(AuthorizationError::ExpiredState);
    }
    if expected_integration.is_some_and(|id| *id != pending.integration_id) {
        return Err(AuthorizationError::OtherIntegration);
    }
    let integration = services.integration(&pending.integration_id).await?;
    if integration.auth_mode != AuthMode::OauthApp {
        return Err(AuthorizationError::NotOAuthApp);
    }
    let credentials = read_credentials(services, &integration.id, true).await?;
    let client = oauth_client(&integration, &credentials)?;
    let master = master_key(services).await?;
    let host = integration.host_url.clone();
    let tokens = match services
        .gitlab
        .exchange_code(&host, &client, code, callback_url, &pkce_verifier(&master, state))
        .await
    {
        Ok(tokens) => tokens,
        Err(GitLabError::OAuthRefused { error }) => {
            tracing::info!(integration_id = %integration.id, gitlab_error = %error, "GitLab refused the authorization code");
            return Err(AuthorizationError::CodeRefused(error));
        }
        Err(err) => return Err(AuthorizationError::GitLabUnavailable(err)),
    };
    let user = match services.gitlab.current_user(&host, &tokens.access_token).await {
        Ok(user) => user,
        Err(err) => {
            revoke_quietly(services, &integration, &client, &tokens.access_token).await;
            return Err(AuthorizationError::GitLabUnavailable(err));
        }
    };
    if integration.gitlab_user_id.is_some_and(|known| known != user.id) {
        revoke_quietly(services, &integration, &client, &tokens.access_token).await;
        return Err(AuthorizationError::AccountMismatch);
    }

    let now = services.clock.now();
    let expires_at = tokens.expires_at(now);
    let version = integration.credentials_version + 1;
    let stored = Credentials {
        access_token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
        client_secret: Some(client.secret),
        expires_at,
        version,
    };
    write_credentials(services, &integration.id, &stored).await?;
    let display_name = user.integration_name(&host.host_label());
    let integration = services
        .modify_integration(&integration.id, |record| {
            record.status = IntegrationStatus::Active;
            record.gitlab_user_id = Some(user.id);
            record.token_expires_at = expires_at;
            record.credentials_version = record.credentials_version.max(version);
            record.display_name = Some(display_name.clone());
            record.updated_at = now;
        })
        .await?
        .ok_or(LookupError::Missing(crate::app::Missing::Integration))?;

    let installations = services.integrations.list_installations(&integration.id).await?;
    let installation = match installations.into_iter().find(|i| i.external_id == user.username) {
        Some(existing) => existing,
        None => {
            let created = Installation::for_user(&integration.id, &user.username, now);
            services.integrations.put_installation(&created).await?;
            created
        }
    };
    // As at connect, a failed first sync is not fatal: POST …/installations runs another.
    tracing::info!(integration_id = %integration.id, installation_id = %installation.id, "OAuth authorization completed");
    if let Err(err) = sync_and_wait(services, &integration.id, SYNC_WAIT).await {
        tracing::warn!(integration_id = %integration.id, error = %err, "the repository sync could not be started");
    }
    Ok(Authorized {
        integration,
        redirect_url: pending.redirect_url,
    })
}

/// Revokes tokens we will not keep; a failure only leaves them to expire.
async fn revoke_quietly(
    services: &Services,
    integration: &IntegrationRecord,
    client: &OAuthClient,
    token: &SecretString,
) {
    if let Err(err) = services.gitlab.revoke_token(&integration.host_url, client, token).await {
        tracing::warn!(integration_id = %integration.id, error = %err, "could not revoke an unused GitLab token; it expires on its own");
    }
}
