//! The error mappings several endpoints share (the store, the vault, GitLab, credentials, tokens,
//! secret rotation, build triggers) and the helpers the endpoints' own mappings are made of;
//! each endpoint maps its use case's own error enum in its handler's file.

//! The one place the use cases' errors become the envelope: each error enum is mapped to its
//! status, code and message here, and nowhere else.

use crate::app::build_triggers::TriggerError;
use crate::app::credentials::CredentialsError;
use crate::app::hooks::admin::RotateError;
use crate::app::master_key::MasterKeyError;
use crate::app::tokens::{TokenError, TokenVerificationError};
use crate::app::{LookupError, Missing};
use crate::domain::trigger::TransitionError;
use crate::inbound::http::envelope::ApiError;
use crate::ports::{GitLabError, StoreError, VaultError};
use http::StatusCode;

/// An integration that cannot call GitLab until someone fixes its credentials.
pub(crate) const INACTIVE: &str =
    "the integration is not active; finish its GitLab authorization or replace its token first";

/// GitLab refused the integration's credentials for good.
pub(crate) const RECONNECT: &str =
    "GitLab no longer accepts this integration's credentials; replace the token or authorize it again";

/// GitLab being down, slow or odd: 502 with the endpoint's code and a short reason in
/// `details`; the whole error chain goes to the log only.
pub(crate) fn gitlab_unavailable(code: &'static str, err: &GitLabError) -> ApiError {
    tracing::warn!(error = %err, "GitLab request failed");
    unavailable_answer(code, err.short_reason())
}

/// The same with a reason already made short (a sync's recorded failure; the sync logged the
/// whole error).
pub(crate) fn gitlab_unavailable_because(code: &'static str, reason: String) -> ApiError {
    tracing::warn!(reason, "GitLab request failed");
    unavailable_answer(code, reason)
}

pub(crate) fn unavailable_answer(code: &'static str, reason: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        code,
        "GitLab could not be reached or answered with an error; try again later",
    )
    .with_details(reason)
}

pub(crate) fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
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
pub(crate) fn token_refusal(err: TokenVerificationError, unavailable_code: &'static str) -> ApiError {
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
