//! `GET /v1/integration-repositories` (`list-source-repositories`): repositories of every integration.

use http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::inbound::http::bodies::{RepositoryListResponse, SourceRepositoryView};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::repository_query;
use crate::inbound::http::{App, Ctx, json};

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
