//! GitLab's project hook endpoints: list, read one, save, delete, and the test delivery that
//! re-enables a disabled hook.

use secrecy::{ExposeSecret, SecretString};

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::{header_u32, json_within, link_next_page};
use crate::domain::gitlab::ProjectHook;
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::ports::{GitLabError, HookSettings};

impl HttpGitLab {
    pub(super) async fn list_hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
    ) -> Result<Vec<ProjectHook>, GitLabError> {
        self.every_hook_at(host, token, &format!("api/v4/projects/{project_id}/hooks"))
            .await
    }

    /// Every page of a hook listing at `path` (a project's or a group's hooks).
    pub(super) async fn every_hook_at(
        &self,
        host: &HostUrl,
        token: &SecretString,
        path: &str,
    ) -> Result<Vec<ProjectHook>, GitLabError> {
        let mut hooks = Vec::new();
        let mut page = 1;
        loop {
            let mut url = host.join(path);
            url.query_pairs_mut()
                .append_pair("per_page", "100")
                .append_pair("page", &page.to_string());
            let response = self.send(self.get(url, Some(token))).await?;
            let next = header_u32(response.headers(), "x-next-page").or_else(|| link_next_page(response.headers()));
            let batch: Vec<ProjectHook> = json_within(response).await?;
            hooks.extend(batch);
            match next {
                Some(n) if n > page => page = n,
                _ => return Ok(hooks),
            }
        }
    }

    pub(super) async fn get_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<ProjectHook, GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/hooks/{hook_id}"));
        let response = self.send(self.get(url, Some(token))).await?;
        json_within(response).await
    }

    /// GitLab sends the hook a test event of `trigger`; a 2xx answer from the hook re-enables it.
    /// GitLab answers 201 when the hook answered 2xx, else 422 (the hook's answer as message).
    pub(super) async fn test_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: u64,
        trigger: &str,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/hooks/{hook_id}/test/{trigger}"));
        self.send(self.with_token(self.client().post(url), Some(token))).await?;
        Ok(())
    }

    pub(super) async fn delete_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: u64,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/hooks/{hook_id}"));
        self.delete_with(url, token).await
    }

    pub(super) async fn save_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError> {
        let body = hook_body(hook);
        let request = match hook_id {
            Some(id) => self
                .client()
                .put(host.join(&format!("api/v4/projects/{project_id}/hooks/{id}"))),
            None => self
                .client()
                .post(host.join(&format!("api/v4/projects/{project_id}/hooks"))),
        };
        let response = self.send(self.with_token(request.json(&body), Some(token))).await?;
        json_within(response).await
    }
}

/// What GitLab is sent to save a project or group hook (the token is sent, never shown back).
pub(super) fn hook_body(hook: &HookSettings) -> serde_json::Value {
    serde_json::json!({
        "url": hook.url,
        "token": hook.token.expose_secret(),
        "push_events": hook.push_events,
        "tag_push_events": hook.tag_push_events,
        "merge_requests_events": hook.merge_requests_events,
        "note_events": hook.note_events,
        "enable_ssl_verification": hook.enable_ssl_verification,
        "resource_access_token_events": hook.resource_access_token_events,
    })
}
