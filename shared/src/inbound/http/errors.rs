//! The one place the use cases' errors become the envelope: each error enum is mapped to its
//! status, code and message here, and nowhere else.

use http::StatusCode;

use crate::app::build_triggers::TriggerError;
use crate::app::connect::ConnectError;
use crate::app::credentials::{CredentialsError, MasterKeyError};
use crate::app::hooks::admin::{RegisterHookError, RotateError};
use crate::app::installations::SyncInstallationsError;
use crate::app::integrations::DeleteError;
use crate::app::oauth::{AuthorizationError, AuthorizeError};
use crate::app::repositories::AvatarError;
use crate::app::sync::jobs::SyncJobError;
use crate::app::tokens::{TokenError, TokenVerificationError};
use crate::app::webhooks::WebhookError;
use crate::app::{LookupError, Missing};
use crate::domain::trigger::TransitionError;
use crate::inbound::http::envelope::ApiError;
use crate::ports::{GitLabError, StoreError, VaultError};

/// An integration that cannot call GitLab until someone fixes its credentials.
const INACTIVE: &str = "the integration is not active; finish its GitLab authorization or replace its token first";
/// GitLab refused the integration's credentials for good.
const RECONNECT: &str =
    "GitLab no longer accepts this integration's credentials; replace the token or authorize it again";

/// GitLab being down, slow or odd: 502 with the endpoint's code and a short reason in
/// `details`; the whole error chain goes to the log only.
fn gitlab_unavailable(code: &'static str, err: &GitLabError) -> ApiError {
    tracing::warn!(error = %err, "GitLab request failed");
    unavailable_answer(code, err.short_reason())
}

/// The same with a reason already made short (a sync's recorded failure; the sync logged the
/// whole error).
fn gitlab_unavailable_because(code: &'static str, reason: String) -> ApiError {
    tracing::warn!(reason, "GitLab request failed");
    unavailable_answer(code, reason)
}

fn unavailable_answer(code: &'static str, reason: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        code,
        "GitLab could not be reached or answered with an error; try again later",
    )
    .with_details(reason)
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => conflict("conflict", "the record was changed by another request; try again"),
            StoreError::Unavailable(detail) => {
                tracing::error!(error = %detail, "storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable; try again shortly",
                )
            }
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(err: VaultError) -> Self {
        tracing::error!(error = %err, "vault failure");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "secrets_unavailable",
            "the secret store is unavailable; try again shortly",
        )
    }
}

impl From<Missing> for ApiError {
    fn from(missing: Missing) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", missing.to_string())
    }
}

impl From<LookupError> for ApiError {
    fn from(err: LookupError) -> Self {
        match err {
            LookupError::Missing(missing) => missing.into(),
            LookupError::Store(err) => err.into(),
        }
    }
}

impl From<CredentialsError> for ApiError {
    fn from(err: CredentialsError) -> Self {
        match err {
            CredentialsError::Missing => conflict(
                "credentials_missing",
                "the saved GitLab credentials are missing; replace the token or reconnect",
            ),
            CredentialsError::Inactive => conflict("integration_inactive", INACTIVE),
            CredentialsError::ReconnectRequired => conflict("gitlab_reconnect_required", RECONNECT),
            CredentialsError::RefreshPending => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gitlab_token_refresh_pending",
                "another request is still refreshing the GitLab token; try again shortly",
            ),
            CredentialsError::IntegrationGone => Missing::Integration.into(),
            CredentialsError::RefreshUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err),
            CredentialsError::Store(err) => err.into(),
            CredentialsError::Vault(err) => err.into(),
        }
    }
}

impl From<MasterKeyError> for ApiError {
    fn from(err: MasterKeyError) -> Self {
        match err {
            MasterKeyError::NotConfigured => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secrets_unavailable",
                "the service's master key is not configured",
            ),
            MasterKeyError::Weak(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secrets_unavailable",
                "the service's master key is too short; an operator must replace it",
            ),
            MasterKeyError::Vault(err) => err.into(),
        }
    }
}

/// A personal token GitLab did not accept. Oore's contract names an unreachable GitLab
/// differently per endpoint (connect `gitlab_api_error`, replace `gitlab_unavailable`), so the
/// caller's mapping says which.
fn token_refusal(err: TokenVerificationError, unavailable_code: &'static str) -> ApiError {
    match err {
        TokenVerificationError::Refused(err) => bad_request(
            "gitlab_auth_failed",
            "GitLab rejected the access token; check it and that it has not expired or been revoked",
        )
        .with_details(err.short_reason()),
        TokenVerificationError::NotInspectable(err) => bad_request(
            "gitlab_auth_failed",
            "GitLab would not describe this token; use a personal access token on GitLab 15.5 or later",
        )
        .with_details(err.short_reason()),
        TokenVerificationError::ScopeMissing(missing) => bad_request(
            "gitlab_scope_missing",
            format!("{missing}; create a token with the api scope, or read_api and read_repository"),
        ),
        TokenVerificationError::Unavailable(err) => gitlab_unavailable(unavailable_code, &err),
    }
}

impl From<ConnectError> for ApiError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Token(err) => token_refusal(err, "gitlab_api_error"),
            ConnectError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_api_error", &err),
            ConnectError::MasterKey(err) => err.into(),
            ConnectError::Store(err) => err.into(),
            ConnectError::Vault(err) => err.into(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Lookup(err) => err.into(),
            TokenError::NotPersonalToken => bad_request(
                "invalid_auth_mode",
                "this integration does not use a personal access token",
            ),
            TokenError::Credentials(err) => err.into(),
            TokenError::Verification(err) => token_refusal(err, "gitlab_unavailable"),
            TokenError::AccountMismatch => conflict(
                "gitlab_account_mismatch",
                "the new token belongs to another GitLab user than this integration; connect that user as a new integration",
            ),
            TokenError::Store(err) => err.into(),
            TokenError::Vault(err) => err.into(),
        }
    }
}

impl From<AuthorizeError> for ApiError {
    fn from(err: AuthorizeError) -> Self {
        match err {
            AuthorizeError::Lookup(err) => err.into(),
            AuthorizeError::NotOAuthApp => bad_request(
                "invalid_auth_mode",
                "only an oauth_app integration is authorized through GitLab",
            ),
            AuthorizeError::InvalidRedirect(why) => bad_request("invalid_redirect_url", why),
            AuthorizeError::Credentials(err) => err.into(),
            AuthorizeError::MasterKey(err) => err.into(),
            AuthorizeError::Store(err) => err.into(),
        }
    }
}

/// Why an authorization could not be completed, written twice over: as the envelope for API
/// clients and as a page (title, message, next step) for a browser on the callback.
pub struct AuthorizationFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub message: String,
    pub next_step: &'static str,
}

const START_AGAIN: &str = "Start the connection again from Oore.";
const LINK_NOT_VALID: &str = "The authorization link is not valid";

fn failure(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: impl Into<String>,
    next_step: &'static str,
) -> AuthorizationFailure {
    AuthorizationFailure {
        status,
        code,
        title,
        message: message.into(),
        next_step,
    }
}

impl From<ApiError> for AuthorizationFailure {
    fn from(err: ApiError) -> Self {
        failure(
            err.status,
            err.code,
            "The connection could not be completed",
            err.message,
            "Try again in a moment.",
        )
    }
}

impl From<AuthorizationError> for AuthorizationFailure {
    fn from(err: AuthorizationError) -> Self {
        let invalid_state =
            |title, message: &str| failure(StatusCode::BAD_REQUEST, "invalid_state", title, message, START_AGAIN);
        match err {
            AuthorizationError::MalformedParameters => {
                invalid_state(LINK_NOT_VALID, "The code or state is not one GitLab issues.")
            }
            AuthorizationError::UnknownState => {
                invalid_state(LINK_NOT_VALID, "This authorization is unknown or was already used.")
            }
            AuthorizationError::ExpiredState => invalid_state(
                "The authorization link has expired",
                "Authorizations must be completed within 10 minutes.",
            ),
            AuthorizationError::OtherIntegration => {
                invalid_state(LINK_NOT_VALID, "This authorization belongs to another integration.")
            }
            AuthorizationError::NotOAuthApp => failure(
                StatusCode::BAD_REQUEST,
                "invalid_auth_mode",
                "The integration cannot be authorized",
                "It does not use an OAuth application.",
                START_AGAIN,
            ),
            AuthorizationError::CodeRefused(error) => failure(
                StatusCode::BAD_REQUEST,
                "gitlab_auth_failed",
                "GitLab refused the authorization",
                format!(
                    "GitLab did not accept the authorization code ({error}); it may have expired or been used already, or the application's settings may differ."
                ),
                "Check the application's client id, secret and redirect URI in GitLab, then start again from Oore.",
            ),
            AuthorizationError::AccountMismatch => failure(
                StatusCode::CONFLICT,
                "gitlab_account_mismatch",
                "A different GitLab account signed in",
                "This integration belongs to another GitLab user than the one who just authorized it.",
                "Sign in to GitLab as the integration's user and start again, or connect a new integration.",
            ),
            AuthorizationError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err).into(),
            AuthorizationError::Lookup(err) => ApiError::from(err).into(),
            AuthorizationError::Credentials(err) => ApiError::from(err).into(),
            AuthorizationError::MasterKey(err) => ApiError::from(err).into(),
            AuthorizationError::Store(err) => ApiError::from(err).into(),
        }
    }
}

impl From<AuthorizationError> for ApiError {
    fn from(err: AuthorizationError) -> Self {
        let failure = AuthorizationFailure::from(err);
        ApiError::new(failure.status, failure.code, failure.message)
    }
}

impl From<DeleteError> for ApiError {
    fn from(err: DeleteError) -> Self {
        match err {
            DeleteError::Lookup(err) => err.into(),
            DeleteError::ActiveBuilds => conflict(
                "integration_has_active_builds",
                "builds of this integration are claimed or running; let them finish or cancel them first",
            ),
            DeleteError::Store(err) => err.into(),
            DeleteError::Vault(err) => err.into(),
        }
    }
}

impl From<AvatarError> for ApiError {
    fn from(err: AvatarError) -> Self {
        let no_avatar = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "this repository has no avatar");
        match err {
            AvatarError::Lookup(err) => err.into(),
            AvatarError::NoAvatar => no_avatar(),
            AvatarError::ForeignHost => {
                no_avatar().with_details("the avatar is not served by the integration's GitLab host")
            }
            AvatarError::Credentials(err) => err.into(),
            AvatarError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_api_error", &err),
        }
    }
}

impl From<SyncInstallationsError> for ApiError {
    fn from(err: SyncInstallationsError) -> Self {
        match err {
            SyncInstallationsError::Lookup(err) => err.into(),
            SyncInstallationsError::Inactive => conflict("integration_inactive", INACTIVE),
            SyncInstallationsError::Credentials(err) => err.into(),
            SyncInstallationsError::ReconnectRequired(err) => {
                conflict("gitlab_reconnect_required", RECONNECT).with_details(err.to_string())
            }
            SyncInstallationsError::GitLabUnavailable(reason) => gitlab_unavailable_because("gitlab_api_error", reason),
            SyncInstallationsError::SyncFailed(err) => {
                tracing::error!(error = %err, "a repository sync failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sync_failed",
                    "the repository sync could not run; try again shortly",
                )
            }
            SyncInstallationsError::Store(err) => err.into(),
            SyncInstallationsError::Job(SyncJobError::Store(err)) => err.into(),
            SyncInstallationsError::Job(SyncJobError::Queue(err)) => {
                tracing::error!(error = %err, "a sync job could not be queued");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sync_unavailable",
                    "the repository sync could not be started; try again shortly",
                )
            }
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        let message = err.to_string();
        match err {
            WebhookError::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            WebhookError::MissingToken => ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", message),
            WebhookError::InvalidPayload(_) => bad_request("invalid_payload", message),
            WebhookError::InvalidToken => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message),
            WebhookError::InvalidSignature(_) => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message),
            WebhookError::SignatureRequired => ApiError::new(StatusCode::UNAUTHORIZED, "signature_required", message),
            WebhookError::GitLabUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gitlab_unavailable",
                "GitLab could not be asked about this project; the delivery can be resent",
            ),
            WebhookError::RepositoryNotRecorded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the repository could not be recorded; try again shortly",
            ),
            WebhookError::Credentials(err) => err.into(),
            WebhookError::MasterKey(err) => err.into(),
            WebhookError::Store(err) => err.into(),
        }
    }
}

impl From<RotateError> for ApiError {
    fn from(err: RotateError) -> Self {
        match err {
            RotateError::Lookup(err) => err.into(),
            RotateError::MasterKey(err) => err.into(),
            RotateError::RotationConflict => {
                conflict("conflict", "another rotation of this secret is in progress; try again")
            }
            RotateError::Store(err) => err.into(),
        }
    }
}

impl From<RegisterHookError> for ApiError {
    fn from(err: RegisterHookError) -> Self {
        match err {
            RegisterHookError::Lookup(err) => err.into(),
            RegisterHookError::Credentials(err) => err.into(),
            RegisterHookError::TokenRefused => bad_request(
                "gitlab_auth_failed",
                "GitLab rejected the integration's token; replace it or reconnect",
            ),
            RegisterHookError::HooksForbidden => bad_request(
                "gitlab_scope_missing",
                "GitLab refused to manage this project's hooks: the token needs the api scope and the Maintainer role on the project",
            ),
            RegisterHookError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_unavailable", &err),
            RegisterHookError::Rotate(err) => err.into(),
        }
    }
}

impl From<TriggerError> for ApiError {
    fn from(err: TriggerError) -> Self {
        match err {
            TriggerError::NotFound => ApiError::not_found("trigger"),
            TriggerError::AlreadyClaimed => conflict(
                "trigger_already_claimed",
                "another build system has claimed this trigger",
            ),
            TriggerError::Transition(TransitionError::NotClaimed) => conflict(
                "trigger_not_claimed",
                "the trigger is not claimed; claim it before reporting on it",
            ),
            TriggerError::Transition(TransitionError::Finished) => {
                conflict("trigger_finished", "the trigger has already reached a final state")
            }
            TriggerError::NotClaimant => ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_denied",
                "only the build system that claimed this trigger (or an owner or admin) may report on it",
            ),
            TriggerError::CloneCredentialUnavailable(err) => {
                tracing::warn!(error = %err, "GitLab would not issue a clone credential");
                conflict(
                    "clone_credential_unavailable",
                    "GitLab would not issue a deploy token for this repository; the integration's token needs the api \
                     scope and the Maintainer role on the project. The trigger is queued again",
                )
            }
            TriggerError::Credentials(err) => err.into(),
            TriggerError::Store(err) => err.into(),
        }
    }
}
