//! `GET /v1/integrations/{id}/repositories` (`list-repositories`).

use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::app::repositories::ListedRepository;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::handlers::repository_query;
use crate::inbound::http::views::RepositoryListResponse;
use crate::inbound::http::views::RepositoryView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

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

/// The health of the hook we registered on a repository, as GitLab last reported it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WebhookView {
    pub hook_id: u64,
    pub alert_status: Option<String>,
    pub disabled_until: Option<String>,
    pub last_delivery_at: Option<i64>,
}

/// A repository of one integration as its listing shows it: the contract's
/// `IntegrationRepository` and the hook we registered on it (`null` when none).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntegrationRepositoryView {
    #[serde(flatten)]
    pub repository: RepositoryView,
    pub webhook: Option<WebhookView>,
}

impl From<&ListedRepository> for IntegrationRepositoryView {
    fn from(listed: &ListedRepository) -> Self {
        IntegrationRepositoryView {
            repository: (&listed.repository).into(),
            webhook: listed.webhook.as_ref().and_then(|hook| {
                Some(WebhookView {
                    hook_id: hook.hook_id?,
                    alert_status: hook.alert_status.clone(),
                    disabled_until: hook.disabled_until.clone(),
                    last_delivery_at: hook.last_delivery_at,
                })
            }),
        }
    }
}
