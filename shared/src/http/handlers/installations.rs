//! `GET|POST /v1/integrations/{id}/installations`: list, and re-sync repositories.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use serde_json::json as value;

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::{access_token, gitlab_unavailable, integration_or_404};
use crate::domain::integration::IntegrationStatus;
use crate::ports::GitLabError;
use crate::sync::{sync_repositories, SyncError};

#[derive(Debug, Deserialize, Default)]
struct SyncRequest {
    installation_id: Option<String>,
}

pub(super) async fn list(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let record = integration_or_404(app, ctx.id()).await?;
    let installations = app.integrations.list_installations(&record.id).await?;
    Ok(json(StatusCode::OK, &value!({ "installations": installations })))
}

pub(super) async fn sync(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let request: SyncRequest = ctx.json()?;
    let mut record = integration_or_404(app, ctx.id()).await?;
    if record.status != IntegrationStatus::Active {
        return Err(ApiError::new(StatusCode::CONFLICT, "integration_inactive", "the integration is not active; fix its credentials first"));
    }
    let installations = app.integrations.list_installations(&record.id).await?;
    let targets: Vec<_> = match request.installation_id.as_deref().filter(|s| !s.is_empty()) {
        Some(wanted) => installations.iter().filter(|i| i.id == wanted).collect(),
        None => installations.iter().collect(),
    };
    if targets.is_empty() {
        return Err(ApiError::not_found("installation"));
    }
    let token = access_token(app, &record).await?;
    let now = app.clock.now();
    for installation in targets {
        let outcome = sync_repositories(
            app.gitlab.as_ref(),
            app.repositories.as_ref(),
            &record.id,
            &installation.id,
            &record.host_url,
            &token,
            now,
            app.config.sync_concurrency,
        )
        .await;
        match outcome {
            Ok(summary) => tracing::info!(integration_id = %record.id, fetched = summary.fetched, written = summary.written, removed = summary.removed, "repositories synced"),
            Err(SyncError::Store(err)) => return Err(err.into()),
            Err(SyncError::GitLab(err @ GitLabError::Unauthorized(_))) => {
                // Read again: fetching the token may have refreshed and rewritten the record.
                record = integration_or_404(app, &record.id).await?;
                record.status = IntegrationStatus::Error;
                record.updated_at = now;
                app.integrations.update_integration(&record).await?;
                return Err(ApiError::new(StatusCode::CONFLICT, "gitlab_reconnect_required", "GitLab no longer accepts this integration's token; replace it or reconnect")
                    .with_details(err.to_string()));
            }
            Err(SyncError::GitLab(err)) => return Err(gitlab_unavailable("gitlab_api_error", &err)),
        }
    }
    Ok(json(StatusCode::OK, &value!({ "installations": installations })))
}
