//! `GET /v1/integrations/{id}/repositories` (`list-repositories`).

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::inbound::http::bodies::{IntegrationRepositoryView, RepositoryListResponse};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::repository_query;
use crate::inbound::http::{App, Ctx, json};

pub(super) async fn list_repositories(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query = repository_query(&ctx)?;
    let page = repositories::list_repositories(&app.services, &ctx.path_id()?, &query).await?;
    let repositories: Vec<IntegrationRepositoryView> = page.repositories.iter().map(Into::into).collect();
    Ok(json(
        StatusCode::OK,
        &RepositoryListResponse {
            repositories,
            total: page.total,
        },
    ))
}
