//! GitLab over HTTPS with reqwest: one client per container, no redirects, SSRF-safe resolving,
//! 429s retried after `Retry-After`.

use async_trait::async_trait;
use reqwest::Client;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::domain::gitlab::{GitLabGroup, GitLabProject, GitLabUser, ProjectHook, TokenInfo};
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::domain::oauth::{OAuthClient, OAuthTokens};
use crate::ports::{
    Avatar, CommitStatus, DeployToken, GitLabApi, GitLabError, HookOwner, HookSettings, KeysetPage, KeysetRange,
    ProjectsPage,
};
use answers::{body_within, header_u32, json_within, link_next_page, read_token_answer};

mod answers;
mod deploy_tokens;
mod groups;
mod hooks;
mod merge_requests;
mod pacing;
mod transport;

/// The GitLab API client. The HTTP client is built on first use: building it loads the
/// system's root certificates (most of a function's init time), and most requests — webhooks,
/// lists — never call GitLab.
#[derive(Default)]
pub struct HttpGitLab {
    client: std::sync::OnceLock<Client>,
    /// Each token's rate limit window, as GitLab last told it.
    pacer: pacing::Pacer,
}

#[async_trait]
impl GitLabApi for HttpGitLab {
    async fn current_user(&self, host: &HostUrl, token: &SecretString) -> Result<GitLabUser, GitLabError> {
        self.get_json(host.join("api/v4/user"), token).await
    }

    async fn token_self(&self, host: &HostUrl, token: &SecretString) -> Result<TokenInfo, GitLabError> {
        self.get_json(host.join("api/v4/personal_access_tokens/self"), token)
            .await
    }

    async fn projects_page(
        &self,
        host: &HostUrl,
        token: &SecretString,
        page: u32,
        per_page: u32,
    ) -> Result<ProjectsPage, GitLabError> {
        let mut url = host.join("api/v4/projects");
        url.query_pairs_mut()
            .append_pair("membership", "true")
            // A stable order keeps offset pages from shifting while they are fetched side by side.
            .append_pair("order_by", "id")
            .append_pair("sort", "asc")
            .append_pair("per_page", &per_page.to_string())
            .append_pair("page", &page.to_string());
        let response = self.send(self.get(url, Some(token))).await?;
        let headers = response.headers().clone();
        let projects: Vec<GitLabProject> = json_within(response).await?;
        Ok(ProjectsPage {
            projects,
            next_page: header_u32(&headers, "x-next-page").or_else(|| link_next_page(&headers)),
            total_pages: header_u32(&headers, "x-total-pages"),
        })
    }

    async fn projects_keyset(
        &self,
        host: &HostUrl,
        token: &SecretString,
        range: &KeysetRange,
    ) -> Result<KeysetPage, GitLabError> {
        let mut url = host.join("api/v4/projects");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("membership", "true")
                .append_pair("pagination", "keyset")
                .append_pair("order_by", "id")
                .append_pair("sort", if range.descending { "desc" } else { "asc" })
                .append_pair("per_page", &range.per_page.to_string());
            if let Some(after) = range.id_after {
                query.append_pair("id_after", &after.to_string());
            }
            if let Some(before) = range.id_before {
                query.append_pair("id_before", &before.to_string());
            }
        }
        let response = self.send(self.get(url, Some(token))).await?;
        let headers = response.headers().clone();
        let projects: Vec<GitLabProject> = json_within(response).await?;
        // Offset answers carry `x-page`; keyset answers never do.
        let keyset = !headers.contains_key("x-page");
        let has_next = headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|link| link.split(',').any(|part| part.contains("rel=\"next\"")));
        Ok(KeysetPage {
            projects,
            has_next,
            keyset,
        })
    }

    async fn avatar(&self, url: &Url, token: Option<&SecretString>, max_bytes: usize) -> Result<Avatar, GitLabError> {
        let response = self.send(self.get(url.clone(), token)).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if !content_type.starts_with("image/") {
            return Err(GitLabError::Decode(format!("avatar is not an image ({content_type})")));
        }
        let body = body_within(response, max_bytes).await.map_err(|err| match err {
            GitLabError::Decode(_) => GitLabError::Decode(format!("avatar is larger than {max_bytes} bytes")),
            other => other,
        })?;
        Ok(Avatar {
            content_type,
            bytes: body.into(),
        })
    }

    async fn project(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
    ) -> Result<GitLabProject, GitLabError> {
        self.get_json(host.join(&format!("api/v4/projects/{project_id}")), token)
            .await
    }

    async fn hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
    ) -> Result<Vec<ProjectHook>, GitLabError> {
        self.list_hooks(host, token, owner).await
    }

    async fn hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
    ) -> Result<ProjectHook, GitLabError> {
        self.get_hook(host, token, owner, hook_id).await
    }

    async fn save_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError> {
        self.put_hook(host, token, owner, hook_id, hook).await
    }

    async fn test_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
        trigger: &str,
    ) -> Result<(), GitLabError> {
        self.send_test_delivery(host, token, owner, hook_id, trigger).await
    }

    async fn delete_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
    ) -> Result<(), GitLabError> {
        self.delete_with(host.join(&format!("{}/{hook_id}", owner.hooks_path())), token)
            .await
    }

    async fn reachable(&self, host: &HostUrl) -> Result<(), GitLabError> {
        match self.send(self.get(host.join("api/v4/version"), None)).await {
            // Without a token GitLab answers 401 (or 403): it is there.
            Ok(_) | Err(GitLabError::Unauthorized(_) | GitLabError::Forbidden) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn exchange_code(
        &self,
        host: &HostUrl,
        client: &OAuthClient,
        code: &str,
        redirect_uri: &str,
        verifier: &SecretString,
    ) -> Result<OAuthTokens, GitLabError> {
        let body = self
            .oauth_post(
                host.join("oauth/token"),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("client_id", &client.id),
                    ("client_secret", client.secret.expose_secret()),
                    ("code_verifier", verifier.expose_secret()),
                ],
            )
            .await?;
        read_token_answer(&body)
    }

    async fn refresh_tokens(
        &self,
        host: &HostUrl,
        client: &OAuthClient,
        refresh_token: &SecretString,
    ) -> Result<OAuthTokens, GitLabError> {
        let body = self
            .oauth_post(
                host.join("oauth/token"),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose_secret()),
                    ("client_id", &client.id),
                    ("client_secret", client.secret.expose_secret()),
                ],
            )
            .await?;
        read_token_answer(&body)
    }

    async fn revoke_token(
        &self,
        host: &HostUrl,
        client: &OAuthClient,
        token: &SecretString,
    ) -> Result<(), GitLabError> {
        self.oauth_post(
            host.join("oauth/revoke"),
            &[
                ("client_id", &client.id),
                ("client_secret", client.secret.expose_secret()),
                ("token", token.expose_secret()),
            ],
        )
        .await?;
        Ok(())
    }

    async fn create_deploy_token(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        name: &str,
        expires_at: i64,
    ) -> Result<DeployToken, GitLabError> {
        self.issue_deploy_token(host, token, project_id, name, expires_at).await
    }

    async fn revoke_deploy_token(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        token_id: u64,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/deploy_tokens/{token_id}"));
        self.delete_with(url, token).await
    }

    async fn group(&self, host: &HostUrl, token: &SecretString, group_id: u64) -> Result<GitLabGroup, GitLabError> {
        self.get_group(host, token, group_id).await
    }

    async fn member_access(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        user_id: u64,
    ) -> Result<Option<u32>, GitLabError> {
        self.member_level(host, token, project_id, user_id).await
    }

    async fn create_merge_request_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        body: &str,
    ) -> Result<u64, GitLabError> {
        self.create_note(host, token, project_id, iid, body).await
    }

    async fn edit_merge_request_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<(), GitLabError> {
        self.edit_note(host, token, project_id, iid, note_id, body).await
    }

    async fn post_commit_status(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitLabError> {
        self.post_status(host, token, project_id, sha, status).await
    }
}
