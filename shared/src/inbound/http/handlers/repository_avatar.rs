//! `GET /v1/integration-repositories/{id}/avatar` (`repository-avatar`): a project avatar,
//! fetched with the integration's token.

use lambda_http::{Body, Response};

use crate::app::repositories;
use crate::app::repositories::AvatarError;
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::errors::gitlab_unavailable;
use crate::inbound::http::{App, Ctx};
use http::StatusCode;

pub(super) async fn repository_avatar(app: &App, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let image = repositories::repository_avatar(&app.services, &ctx.path_id()?).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", image.content_type)
        .header("cache-control", "private, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .body(Body::Binary(image.bytes.to_vec()))
        .unwrap_or_default())
}

impl From<AvatarError> for ApiError {
    fn from(err: AvatarError) -> Self {
        let no_avatar = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "this repository has no avatar");
        match err {
            AvatarError::Lookup(err) => err.into(),
            AvatarError::NoAvatar => no_avatar(),
            AvatarError::ForeignHost => {
                no_avatar().with_details("the avatar is not served by the integration's GitLab host")
            }
            AvatarError::Credentials(err) => err.into(),
            AvatarError::GitLabUnavailable(err) => gitlab_unavailable("gitlab_api_error", &err),
        }
    }
}
