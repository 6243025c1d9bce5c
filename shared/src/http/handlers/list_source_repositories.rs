//! `GET /v1/integration-repositories` (`list-source-repositories`): repositories of every integration.

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::{RepositoryListResponse, SourceRepositoryView};
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use super::repository_query;
use crate::app::repositories;

pub(super) async fn list_source_repositories(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let page = repositories::list_source_repositories(&app.services, &repository_query(&ctx)?).await?;
    let repositories: Vec<SourceRepositoryView> = page
        .repositories
        .iter()
        .map(|(repo, host)| SourceRepositoryView::new(repo, host.as_ref()))
        .collect();
    Ok(json(
        StatusCode::OK,
        &RepositoryListResponse {
            repositories,
            total: page.total,
        },
    ))
}
