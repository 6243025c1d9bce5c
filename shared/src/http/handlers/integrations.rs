//! `GET /v1/integrations`, `GET /v1/integrations/{id}`, `DELETE /v1/integrations/{id}`.

use std::cmp::Ordering;

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json as value;

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::credentials::{oauth_client, read_credentials};
use super::integration_or_404;
use crate::domain::integration::{AuthMode, IntegrationRecord, IntegrationStatus};

fn compare(sort: &str, a: &IntegrationRecord, b: &IntegrationRecord) -> Ordering {
    let name = |r: &IntegrationRecord| r.display_name.clone().unwrap_or_default().to_lowercase();
    match sort {
        "provider" => Ordering::Equal,
        "status" => a.status.as_str().cmp(b.status.as_str()),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        _ => name(a).cmp(&name(b)),
    }
    .then_with(|| a.id.cmp(&b.id))
}

pub(super) async fn list(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let sort = ctx.query.get("sort").map(String::as_str).unwrap_or("name");
    if !matches!(sort, "name" | "provider" | "status" | "updated_at") {
        return Err(ApiError::invalid_request("`sort` must be name, provider, status or updated_at"));
    }
    let descending = match ctx.query.get("direction").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::invalid_request("`direction` must be asc or desc")),
    };
    let limit = ctx.query_int("limit", 20, 1, 200)? as usize;
    let offset = ctx.query_int("offset", 0, 0, i64::MAX)? as usize;
    let provider_matches = ctx.query.get("provider").is_none_or(|p| p.is_empty() || p == "gitlab");
    let q = ctx.query.get("q").map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());

    let mut all: Vec<IntegrationRecord> = if provider_matches { app.integrations.list_integrations().await? } else { Vec::new() };
    if let Some(q) = &q {
        all.retain(|r| {
            r.display_name.as_deref().unwrap_or_default().to_lowercase().contains(q)
                || r.host_url.as_str().to_lowercase().contains(q)
                || r.status.as_str() == q
                || r.auth_mode.as_str() == q
        });
    }
    all.sort_by(|a, b| if descending { compare(sort, b, a) } else { compare(sort, a, b) });
    let active_total = all.iter().filter(|r| r.status == IntegrationStatus::Active).count();
    let total = all.len();
    let page: Vec<_> = all.iter().skip(offset).take(limit).map(IntegrationRecord::view).collect();
    Ok(json(StatusCode::OK, &value!({ "integrations": page, "total": total, "active_total": active_total })))
}

pub(super) async fn detail(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let record = integration_or_404(app, ctx.id()).await?;
    let (installations, repositories, (latest, _)) = futures::try_join!(
        app.integrations.list_installations(&record.id),
        app.repositories.list_repositories(&record.id),
        app.webhooks.list_deliveries(&record.id, 1, None)
    )?;
    Ok(json(StatusCode::OK, &value!({
        "integration": record.view(),
        "installation_count": installations.len(),
        "repository_count": repositories.len(),
        "last_webhook_at": latest.first().map(|d| d.received_at),
    })))
}

/// Revokes OAuth tokens at GitLab, then removes the credentials and the records, the
/// integration's own item last: a delete that fails half-way leaves the integration listed,
/// and repeating it finishes the job.
pub(super) async fn delete(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let record = integration_or_404(app, ctx.id()).await?;
    if record.auth_mode == AuthMode::OauthApp {
        revoke_oauth_tokens(app, &record).await;
    }
    app.vault.delete_secret(&app.config.credentials_secret_name(&record.id)).await?;
    app.integrations.delete_integration(&record.id).await?;
    tracing::info!(integration_id = %record.id, "integration deleted");
    Ok(json(StatusCode::OK, &value!({ "ok": true })))
}

/// Revokes the access and refresh tokens. GitLab being unreachable does not block the delete:
/// the tokens then stay valid until they expire, and the log says so.
async fn revoke_oauth_tokens(app: &App, record: &IntegrationRecord) {
    let Ok(credentials) = read_credentials(app, &record.id, true).await else { return };
    let Ok(client) = oauth_client(record, &credentials) else { return };
    for token in [&credentials.access_token, &credentials.refresh_token].into_iter().flatten() {
        if let Err(err) = app.gitlab.revoke_token(&record.host_url, &client, token).await {
            tracing::warn!(integration_id = %record.id, error = %err, "could not revoke the integration's tokens at GitLab; they stay valid until they expire");
            return;
        }
    }
    tracing::info!(integration_id = %record.id, "OAuth tokens revoked at GitLab");
}
