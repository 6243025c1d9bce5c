//! `GET /v1/integrations` (`list-integrations`): a page of integrations, sorted and searched.

use lambda_http::{Body, Response};

use crate::app::integrations::{self, IntegrationQuery, IntegrationSort};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::views::IntegrationView;
use crate::inbound::http::{App, Ctx, json};
use http::StatusCode;
use serde::Serialize;

fn query(ctx: &Ctx) -> Result<IntegrationQuery, ApiError> {
    let sort = match ctx.query.get("sort").map(String::as_str).unwrap_or("name") {
        "name" => IntegrationSort::Name,
        "provider" => IntegrationSort::Provider,
        "status" => IntegrationSort::Status,
        "updated_at" => IntegrationSort::UpdatedAt,
        _ => {
            return Err(ApiError::invalid_request(
                "`sort` must be name, provider, status or updated_at",
            ));
        }
    };
    let descending = match ctx.query.get("direction").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::invalid_request("`direction` must be asc or desc")),
    };
    Ok(IntegrationQuery {
        sort,
        descending,
        limit: ctx.query_int("limit", 20, 1, 200)? as usize,
        offset: ctx.query_int("offset", 0, 0, i64::MAX)? as usize,
        gitlab_provider: ctx.query.get("provider").is_none_or(|p| p.is_empty() || p == "gitlab"),
        q: ctx
            .query
            .get("q")
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty()),
    })
}

pub(super) async fn list_integrations(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let page = integrations::list_integrations(&app.services, &query(&ctx)?).await?;
    Ok(json(
        StatusCode::OK,
        &IntegrationListResponse {
            integrations: page.integrations.iter().map(Into::into).collect(),
            total: page.total,
            active_total: page.active_total,
        },
    ))
}

#[derive(Debug, Serialize)]
pub struct IntegrationListResponse {
    pub integrations: Vec<IntegrationView>,
    pub total: usize,
    pub active_total: usize,
}
