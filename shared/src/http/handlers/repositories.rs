//! `GET /v1/integrations/{id}/repositories`, `GET /v1/integration-repositories` and the avatar proxy.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json as value;
use url::Url;

use super::super::error::ApiError;
use super::super::{json, App, Ctx};
use super::{access_token, gitlab_unavailable, integration_or_404};
use crate::domain::integration::{Repository, SourceRepositoryView};
use crate::ports::GitLabError;

/// Largest avatar we pass through; GitLab itself caps uploads at 200 KiB.
pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;

struct Page {
    q: Option<String>,
    limit: usize,
    offset: usize,
}

fn page_params(ctx: &Ctx) -> Result<Page, ApiError> {
    Ok(Page {
        q: ctx.query.get("q").map(|q| q.trim().to_string()).filter(|q| !q.is_empty()),
        limit: ctx.query_int("limit", 20, 1, 100)? as usize,
        offset: ctx.query_int("offset", 0, 0, i64::MAX)? as usize,
    })
}

/// Filters by `q`, sorts by full name and cuts the page; returns the page and the total.
fn select(mut repos: Vec<Repository>, page: &Page) -> (Vec<Repository>, usize) {
    if let Some(q) = &page.q {
        repos.retain(|r| r.matches(q));
    }
    repos.sort_by(|a, b| a.full_name.to_lowercase().cmp(&b.full_name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
    let total = repos.len();
    (repos.into_iter().skip(page.offset).take(page.limit).collect(), total)
}

pub(super) async fn list(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let page = page_params(&ctx)?;
    let record = integration_or_404(app, ctx.id()).await?;
    let (repos, total) = select(app.repositories.list_repositories(&record.id).await?, &page);
    let views: Vec<_> = repos.iter().map(Repository::view).collect();
    Ok(json(StatusCode::OK, &value!({ "repositories": views, "total": total })))
}

pub(super) async fn list_all(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let page = page_params(&ctx)?;
    let integrations = app.integrations.list_integrations().await?;
    let lists = futures::future::try_join_all(integrations.iter().map(|i| app.repositories.list_repositories(&i.id))).await?;
    let (repos, total) = select(lists.into_iter().flatten().collect(), &page);
    let views: Vec<_> = repos
        .iter()
        .map(|r| {
            let host = integrations.iter().find(|i| i.id == r.integration_id).map(|i| i.host_url.to_string()).unwrap_or_default();
            SourceRepositoryView { repository: r.view(), integration_id: r.integration_id.clone(), provider: "gitlab", host_url: host }
        })
        .collect();
    Ok(json(StatusCode::OK, &value!({ "repositories": views, "total": total })))
}

/// Fetches a (possibly private) project avatar with the integration's token. Only URLs on the
/// integration's own GitLab host are fetched, so the token never travels elsewhere.
pub(super) async fn avatar(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let no_avatar = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "this repository has no avatar");
    let repo = app.repositories.get_repository(ctx.id()).await?.ok_or_else(|| ApiError::not_found("repository"))?;
    let integration = integration_or_404(app, &repo.integration_id).await?;
    let url = repo.avatar_url.as_deref().and_then(|u| Url::parse(u).ok()).ok_or_else(no_avatar)?;
    if !integration.host_url.same_origin(&url) {
        return Err(no_avatar().with_details("the avatar is not served by the integration's GitLab host"));
    }
    let token = access_token(app, &integration).await?;
    match app.gitlab.avatar(&url, Some(&token), MAX_AVATAR_BYTES).await {
        Ok(image) => Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", image.content_type)
            .header("cache-control", "private, max-age=3600")
            .header("x-content-type-options", "nosniff")
            .body(Body::Binary(image.bytes.to_vec()))
            .unwrap_or_default()),
        Err(GitLabError::NotFound) => Err(no_avatar()),
        Err(err) => Err(gitlab_unavailable("gitlab_api_error", &err)),
    }
}
