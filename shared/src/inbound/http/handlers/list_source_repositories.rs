//! `GET /v1/integration-repositories` (`list-source-repositories`): repositories of every integration.

use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::domain::host::HostUrl;
use crate::domain::ids::IntegrationId;
use crate::domain::integration::Repository;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::repository_query;
use crate::inbound::http::views::RepositoryListResponse;
use crate::inbound::http::views::RepositoryView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

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

/// The contract's `SourceRepository`: a repository with the integration it belongs to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceRepositoryView {
    #[serde(flatten)]
    pub repository: RepositoryView,
    pub integration_id: IntegrationId,
    pub provider: &'static str,
    pub host_url: String,
}

impl SourceRepositoryView {
    pub fn new(repo: &Repository, host: Option<&HostUrl>) -> Self {
        SourceRepositoryView {
            repository: repo.into(),
            integration_id: repo.integration_id.clone(),
            provider: "gitlab",
            host_url: host.map(HostUrl::to_string).unwrap_or_default(),
        }
    }
}
