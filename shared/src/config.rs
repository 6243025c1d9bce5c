//! Settings read once per container from the environment.

use crate::domain::host::HostPolicy;
use crate::domain::ids::IntegrationId;

/// Everything an operator sets. Read at cold start; never holds a secret value.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table of integrations, installations and repositories (`TABLE_NAME`).
    pub table_name: String,
    /// Prefix of every Secrets Manager name this service creates (`SECRET_PREFIX`), so IAM can
    /// grant the functions exactly that prefix.
    pub secret_prefix: String,
    /// Secrets Manager id of the caller-token signing key (`CALLER_KEY_SECRET_ID`).
    pub caller_key_secret_id: String,
    /// Expected `iss` and `aud` of caller tokens (`TOKEN_ISSUER`, `TOKEN_AUDIENCE`).
    pub token_issuer: String,
    pub token_audience: String,
    /// The longest lifetime (`exp` − `iat`) a caller token may have (`MAX_TOKEN_LIFETIME_SECONDS`,
    /// default 30 days, so build systems' long-lived runner tokens still work).
    pub max_token_lifetime_secs: i64,
    /// Public base URL GitLab and browsers reach us at (`PUBLIC_BASE_URL`), no trailing slash.
    /// Unset: the API's own domain as API Gateway reports it (never a client's `Host` header).
    pub public_base_url: Option<String>,
    /// Which GitLab hosts may be reached over plain http (`GITLAB_HTTP_LOOPBACK=true`,
    /// `GITLAB_HTTP_HOSTS=a,b`).
    pub host_policy: HostPolicy,
    /// Page requests in flight at once while syncing (`SYNC_CONCURRENCY`).
    pub sync_concurrency: usize,
    /// Secrets Manager id of the master key webhook signing keys and OAuth PKCE verifiers are derived from
    /// (`MASTER_KEY_SECRET_ID`).
    pub master_key_secret_id: String,
    /// How long a rotated-out webhook secret keeps working (`WEBHOOK_GRACE_SECONDS`, default 3600).
    pub webhook_grace_secs: i64,
    /// How long the delivery log and dedupe markers are kept (`DELIVERY_RETENTION_DAYS`, default 30).
    pub delivery_retention_secs: i64,
    /// Origins of the Oore UI an OAuth authorization may send the browser back to
    /// (`ALLOWED_UI_ORIGINS`, comma-separated, e.g. `https://ci.example.com`).
    pub allowed_ui_origins: Vec<String>,
    /// How long a build system's claim holds without a report (`CLAIM_TIMEOUT_SECONDS`, default 1800).
    pub claim_timeout_secs: i64,
    /// The name of our commit status at GitLab (`STATUS_NAME`, default `oore-ci`).
    pub status_name: String,
    /// The EventBridge bus `Build Triggered` events go to (`BUILD_EVENT_BUS_NAME`); only the
    /// hand-off function publishes.
    pub build_event_bus: Option<String>,
    /// The SQS queue sync jobs go to (`SYNC_QUEUE_URL`); unset, they run in this process.
    pub sync_queue_url: Option<String>,
    /// The CloudWatch namespace of the functions' metrics (`METRICS_NAMESPACE`).
    pub metrics_namespace: String,
    /// Draft merge requests build too (`BUILD_DRAFT_MERGE_REQUESTS=true`; default false).
    pub build_draft_merge_requests: bool,
    /// A merge request's finished builds are summarised in one note on it
    /// (`MERGE_REQUEST_NOTES=true`; default false).
    pub merge_request_notes: bool,
}

/// A setting that is missing or unusable.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the settings from `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError {
                name,
                problem: "is required".into(),
            })
        };
        let or = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let sync_concurrency = or("SYNC_CONCURRENCY", "8")
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=32).contains(n))
            .ok_or(ConfigError {
                name: "SYNC_CONCURRENCY",
                problem: "must be a number from 1 to 32".into(),
            })?;
        let number = |name: &'static str, default: &str, min: i64, max: i64| {
            or(name, default)
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or(ConfigError {
                    name,
                    problem: format!("must be a whole number from {min} to {max}"),
                })
        };
        Ok(Config {
            master_key_secret_id: required("MASTER_KEY_SECRET_ID")?,
            webhook_grace_secs: number("WEBHOOK_GRACE_SECONDS", "3600", 0, 7 * 24 * 3600)?,
            delivery_retention_secs: number("DELIVERY_RETENTION_DAYS", "30", 1, 365)? * 24 * 3600,
            table_name: required("TABLE_NAME")?,
            secret_prefix: or("SECRET_PREFIX", "oore-gitlab/"),
            caller_key_secret_id: required("CALLER_KEY_SECRET_ID")?,
            token_issuer: or("TOKEN_ISSUER", "oore"),
            token_audience: or("TOKEN_AUDIENCE", "oore-gitlab"),
            max_token_lifetime_secs: number("MAX_TOKEN_LIFETIME_SECONDS", "2592000", 60, 366 * 24 * 3600)?,
            public_base_url: lookup("PUBLIC_BASE_URL")
                .map(|v| v.trim().trim_end_matches('/').to_string())
                .filter(|v| !v.is_empty()),
            host_policy: HostPolicy {
                allow_http_loopback: or("GITLAB_HTTP_LOOPBACK", "false") == "true",
                http_hosts: or("GITLAB_HTTP_HOSTS", "")
                    .split(',')
                    .map(|h| h.trim().to_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
            },
            sync_concurrency,
            claim_timeout_secs: number("CLAIM_TIMEOUT_SECONDS", "1800", 60, 24 * 3600)?,
            status_name: or("STATUS_NAME", "oore-ci").trim().to_string(),
            metrics_namespace: or("METRICS_NAMESPACE", "OoreGitLab").trim().to_string(),
            build_draft_merge_requests: or("BUILD_DRAFT_MERGE_REQUESTS", "false").trim() == "true",
            merge_request_notes: or("MERGE_REQUEST_NOTES", "false").trim() == "true",
            sync_queue_url: lookup("SYNC_QUEUE_URL")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            build_event_bus: lookup("BUILD_EVENT_BUS_NAME")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            allowed_ui_origins: or("ALLOWED_UI_ORIGINS", "")
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The vault name of an integration's credentials.
    pub fn credentials_secret_name(&self, integration_id: &IntegrationId) -> String {
        format!("{}integration/{integration_id}", self.secret_prefix)
    }

    /// The base URL links point at: the configured one, else `https://` and the domain API
    /// Gateway says the request reached (`requestContext.domainName`). Client headers (`Host`,
    /// `X-Forwarded-*`) never choose it: they would let a caller plant a hook URL or OAuth
    /// `redirect_uri` of its own.
    pub fn base_url(&self, gateway_domain: Option<&str>) -> String {
        match (&self.public_base_url, gateway_domain) {
            (Some(configured), _) => configured.clone(),
            (None, Some(domain)) => format!("https://{domain}"),
            (None, None) => String::new(),
        }
    }
}

/// The OAuth redirect URI under a base URL: what a GitLab application registers.
pub fn callback_url(base: &str) -> String {
    format!("{base}/v1/integrations/gitlab/callback")
}

/// The URL GitLab posts webhooks to, under a base URL.
pub fn webhook_url(base: &str) -> String {
    format!("{base}/v1/webhooks/gitlab")
}
