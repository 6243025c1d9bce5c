//! Callers: bearer JWTs (HS256) verified against the signing key in the vault, and their roles.

use std::sync::Arc;

use http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::secrets::{WeakKey, require_strong_key};
use crate::inbound::http::envelope::ApiError;
use crate::ports::{Clock, SecretVault};

/// Clock skew tolerated on `exp`, `iat` and `nbf`, as jsonwebtoken's own default.
const LEEWAY_SECS: i64 = 60;

/// The daemon's roles, and ours for build systems. owner/admin may change integrations;
/// developer and qa_viewer may read; a runner may only list, read, claim and report build
/// triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    QaViewer,
    Runner,
}

impl Role {
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No bearer token: GitLab's webhooks and the OAuth callback.
    Public,
    /// Integrations and repositories, read: every role but a runner.
    Read,
    /// Integrations changed: owner and admin.
    Write,
    /// Build triggers, read: every role.
    TriggerRead,
    /// Build triggers claimed and reported on: runners, owner and admin.
    TriggerWork,
}

/// Claims of a caller token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Not valid before (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
}

/// Verifies caller tokens. The key is read through the (cached) vault on each request, so a
/// rotated key takes effect once the cache entry expires, without a redeploy.
#[derive(Clone)]
pub struct Authenticator {
    vault: Arc<dyn SecretVault>,
    clock: Arc<dyn Clock>,
    key_secret_id: String,
    issuer: String,
    audience: String,
    max_lifetime_secs: i64,
}

impl Authenticator {
    pub fn new(
        vault: Arc<dyn SecretVault>,
        clock: Arc<dyn Clock>,
        key_secret_id: String,
        issuer: String,
        audience: String,
        max_lifetime_secs: i64,
    ) -> Self {
        Authenticator {
            vault,
            clock,
            key_secret_id,
            issuer,
            audience,
            max_lifetime_secs,
        }
    }

    /// Checks the `Authorization` header: none → 401 missing_auth; anything not a valid token → 401 invalid_session.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let header = authorization.filter(|h| !h.trim().is_empty()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_auth",
                "Authorization header required",
            )
        })?;
        let invalid = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_session",
                "the bearer token is invalid or has expired; sign in again",
            )
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(invalid)?;
        let key = self.vault.get_secret(&self.key_secret_id).await?.ok_or_else(|| {
            tracing::error!("the caller-token signing key secret is missing");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_unavailable",
                "caller authentication is not configured",
            )
        })?;
        let key = signing_key_bytes(&key);
        if let Err(err) = require_strong_key("caller-token signing key", &key) {
            tracing::error!(error = %err, "refusing to verify caller tokens");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_unavailable",
                "caller authentication is misconfigured: the signing key is too short",
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against our clock (tests move it), not inside the library.
        validation.validate_exp = false;
        let data = decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.expose_secret().as_bytes()),
            &validation,
        )
        .map_err(|_| invalid())?;
        check_times(&data.claims, self.clock.now(), self.max_lifetime_secs)?;
        Ok(Caller {
            user_id: data.claims.sub,
            role: data.claims.role,
        })
    }
}

/// A token's times against `now`: not expired, not issued or valid only in the future, and
/// not made to live longer than `max_lifetime` (a stolen long-lived token is a standing key).
/// Every number is the caller's: arithmetic saturates rather than overflows.
fn check_times(claims: &Claims, now: i64, max_lifetime: i64) -> Result<(), ApiError> {
    let refuse = |message: &str| Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_session", message));
    if claims.exp.saturating_add(LEEWAY_SECS) < now {
        return refuse("the bearer token is invalid or has expired; sign in again");
    }
    if claims.iat.saturating_sub(LEEWAY_SECS) > now
        || claims.nbf.is_some_and(|nbf| nbf.saturating_sub(LEEWAY_SECS) > now)
    {
        return refuse("the bearer token is not valid yet (iat or nbf is in the future)");
    }
    if claims.exp.saturating_sub(claims.iat) > max_lifetime {
        return refuse(
            "the bearer token lives longer than this service accepts (MAX_TOKEN_LIFETIME_SECONDS); issue a shorter one",
        );
    }
    Ok(())
}

/// The key material: the secret as stored, or its `key` field when the secret is JSON
/// (CloudFormation's GenerateSecretString with GenerateStringKey writes JSON).
fn signing_key_bytes(secret: &SecretString) -> SecretString {
    let raw = secret.expose_secret();
    if raw.trim_start().starts_with('{')
        && let Some(key) = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| v.get("key")?.as_str().map(str::to_string))
    {
        return SecretString::from(key);
    }
    SecretString::from(raw.to_string())
}

/// Issues a caller token (the local runner's `token` command and tests use it).
///
/// # Errors
/// `WeakKey` when the key is shorter than 32 bytes: nothing is signed with it.
pub fn issue_token(
    key: &SecretString,
    user_id: &str,
    role: Role,
    issuer: &str,
    audience: &str,
    now: i64,
    ttl_secs: i64,
) -> Result<String, WeakKey> {
    let key = signing_key_bytes(key);
    require_strong_key("caller-token signing key", &key)?;
    let claims = Claims {
        sub: user_id.into(),
        role,
        iss: issuer.into(),
        aud: audience.into(),
        exp: now.saturating_add(ttl_secs),
        iat: now,
        nbf: None,
    };
    #[allow(clippy::expect_used, reason = "HS256 over an in-memory key has no failure to report")]
    Ok(encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.expose_secret().as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail"))
}

/// 403 when the role may not do what the route does.
pub fn authorize(caller: &Caller, access: Access) -> Result<(), ApiError> {
    let denied = |message: &str| Err(ApiError::new(StatusCode::FORBIDDEN, "permission_denied", message));
    match access {
        Access::Write if !caller.role.can_write() => {
            denied("your role may not change integrations; ask an owner or admin")
        }
        Access::Read | Access::Write if caller.role == Role::Runner => {
            denied("a runner may only list, read, claim and report build triggers")
        }
        Access::TriggerWork if !(caller.role.can_write() || caller.role == Role::Runner) => {
            denied("only a runner, owner or admin may claim and report build triggers")
        }
        _ => Ok(()),
    }
}
