//! `GET /v1/integrations/{id}/repositories` (`list-repositories`), and the page parameters the
//! repository listings share.

use http::StatusCode;
use lambda_http::{Body, Response};

use super::super::bodies::{RepositoryListResponse, RepositoryView};
use super::super::envelope::ApiError;
use super::super::{App, Ctx, json};
use crate::app::repositories::{self, RepositoryQuery};

/// `q`, `limit` (1–100, default 20) and `offset`.
pub(super) fn repository_query(ctx: &Ctx) -> Result<RepositoryQuery, ApiError> {
    Ok(RepositoryQuery {
        q: ctx
            .query
            .get("q")
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
        limit: ctx.query_int("limit", 20, 1, 100)? as usize,
        offset: ctx.query_int("offset", 0, 0, i64::MAX)? as usize,
    })
}

pub(super) async fn list_repositories(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let query = repository_query(&ctx)?;
    let page = repositories::list_repositories(&app.services, &ctx.path_id()?, &query).await?;
    let repositories: Vec<RepositoryView> = page.repositories.iter().map(Into::into).collect();
    Ok(json(
        StatusCode::OK,
        &RepositoryListResponse {
            repositories,
            total: page.total,
        },
    ))
}
