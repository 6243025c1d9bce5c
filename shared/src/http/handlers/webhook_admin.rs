//! Webhook administration: rotate a repository's secret, register the hook at GitLab, and read
//! an integration's delivery log.

use http::StatusCode;
use lambda_http::{Body, Response};
use secrecy::ExposeSecret;
use serde_json::json as value;

use super::super::auth::Role;
use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::{access_token, gitlab_unavailable, integration_or_404, master_key};
use crate::domain::delivery::is_cursor;
use crate::domain::integration::{IntegrationRecord, Repository};
use crate::domain::webhook::signing_key_text;
use crate::domain::webhook_keys::{IssuedKey, WebhookKey};
use crate::ports::{GitLabError, HookSettings, StoreError};

/// Rotations racing on one scope retry this often before answering 409.
const ROTATION_ATTEMPTS: usize = 3;

async fn repository_and_integration(app: &App, repository_id: &str) -> Result<(Repository, IntegrationRecord), ApiError> {
    let repository = app.repositories.get_repository(repository_id).await?.ok_or_else(|| ApiError::not_found("repository"))?;
    let integration = integration_or_404(app, &repository.integration_id).await?;
    Ok((repository, integration))
}

/// Issues a new secret for `scope` and makes it current; the previous one stays valid for the
/// grace window. Returns the issued secret and when the previous one stops working.
pub(super) async fn rotate(app: &App, integration_id: &str, project_id: Option<&str>) -> Result<(IssuedKey, i64), ApiError> {
    let now = app.clock.now();
    let grace_until = now + app.config.webhook_grace_secs;
    let issued = WebhookKey::issue(integration_id, project_id, now);
    for attempt in 1..=ROTATION_ATTEMPTS {
        match app.webhooks.rotate_webhook_key(&issued.key, grace_until, now).await {
            Ok(()) => return Ok((issued, grace_until)),
            Err(StoreError::Conflict) if attempt < ROTATION_ATTEMPTS => continue,
            Err(StoreError::Conflict) => {
                return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "another rotation of this secret is in progress; try again"));
            }
            Err(err) => return Err(err.into()),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// `POST /v1/integration-repositories/{id}/gitlab-webhook-secret`: a new secret for one
/// repository, shown once with its signing key.
pub(super) async fn rotate_repository_secret(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let (repository, integration) = repository_and_integration(app, ctx.id()).await?;
    // Read first: a rotation whose signing key could not be shown would lose it.
    let master = master_key(app).await?;
    let (issued, previous_valid_until) = rotate(app, &integration.id, Some(&repository.external_id)).await?;
    tracing::info!(integration_id = %integration.id, repository_id = %repository.id, "repository webhook secret rotated");
    Ok(json(StatusCode::OK, &value!({
        "repository_id": repository.id,
        "webhook_secret": issued.secret.expose_secret(),
        "rotated_at": issued.key.created_at,
        "webhook_signing_key": signing_key_text(&issued.key.signing_key(&master)),
        "previous_valid_until": previous_valid_until,
        "webhook_url": ctx.webhook_url(),
    })))
}

fn gitlab_refusal(err: GitLabError) -> ApiError {
    match err {
        GitLabError::Unauthorized(_) => ApiError::new(StatusCode::BAD_REQUEST, "gitlab_auth_failed", "GitLab rejected the integration's token; replace it or reconnect"),
        GitLabError::Forbidden | GitLabError::NotFound => ApiError::new(
            StatusCode::BAD_REQUEST,
            "gitlab_scope_missing",
            "GitLab refused to manage this project's hooks: the token needs the api scope and the Maintainer role on the project",
        ),
        other => gitlab_unavailable("gitlab_unavailable", &other),
    }
}

/// `POST /v1/integration-repositories/{id}/gitlab-webhook`: creates the project hook at GitLab,
/// or updates ours if it is there already (matched on its URL), with a fresh secret.
pub(super) async fn register_hook(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let (repository, integration) = repository_and_integration(app, ctx.id()).await?;
    let project_id: u64 = repository.external_id.parse().map_err(|_| ApiError::invalid_input("the repository's GitLab project id is not a number"))?;
    let token = access_token(app, &integration).await?;
    let url = ctx.webhook_url();
    let hooks = app.gitlab.project_hooks(&integration.host_url, &token, project_id).await.map_err(gitlab_refusal)?;
    let existing = hooks.iter().find(|h| h.url == url).map(|h| h.id);

    // The secret is stored before GitLab hears of it: if GitLab then fails, the secret GitLab
    // still holds keeps working through the grace window and the call can simply be repeated.
    let (issued, _) = rotate(app, &integration.id, Some(&repository.external_id)).await?;
    let settings = HookSettings {
        url: url.clone(),
        token: issued.secret,
        push_events: true,
        tag_push_events: true,
        merge_requests_events: true,
        enable_ssl_verification: true,
    };
    let hook = app.gitlab.save_project_hook(&integration.host_url, &token, project_id, existing, &settings).await.map_err(gitlab_refusal)?;
    tracing::info!(integration_id = %integration.id, repository_id = %repository.id, hook_id = hook.id, created = existing.is_none(), "project hook registered");
    Ok(json(StatusCode::OK, &value!({
        "repository_id": repository.id,
        "hook_id": hook.id,
        "created": existing.is_none(),
        "webhook_url": url,
        "rotated_at": issued.key.created_at,
    })))
}

/// `GET /v1/integrations/{id}/deliveries?limit&cursor`: the delivery log, newest first.
/// qa_viewer may read integrations but not their deliveries.
pub(super) async fn list_deliveries(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    if ctx.caller.as_ref().is_some_and(|c| c.role == Role::QaViewer) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "permission_denied", "your role may not read webhook deliveries"));
    }
    let integration = integration_or_404(app, ctx.id()).await?;
    let limit = ctx.query_int("limit", 20, 1, 100)? as usize;
    let cursor = ctx.query.get("cursor").map(String::as_str).filter(|c| !c.is_empty());
    if cursor.is_some_and(|c| !is_cursor(c)) {
        return Err(ApiError::invalid_request("`cursor` is not one this endpoint gave out"));
    }
    let (deliveries, next_cursor) = app.webhooks.list_deliveries(&integration.id, limit, cursor).await?;
    let items: Vec<_> = deliveries
        .iter()
        .map(|d| {
            value!({
                "id": d.id,
                "delivery_id": d.delivery_key,
                "event": d.event,
                "project_id": d.project_id,
                "repository_id": d.repository_id,
                "outcome": d.outcome,
                "reason": d.reason,
                "trigger_id": d.trigger_id,
                "received_at": d.received_at,
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &value!({ "deliveries": items, "next_cursor": next_cursor })))
}
