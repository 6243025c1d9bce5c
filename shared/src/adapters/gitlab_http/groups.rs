//! GitLab's group endpoints: a group's path, and its hooks (list, read one, save, delete, and
//! the test delivery that re-enables a disabled hook). Group hooks are GitLab Premium's and need
//! Owner on the group; GitLab answers 403 or 404 otherwise.

use secrecy::SecretString;

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::json_within;
use crate::adapters::gitlab_http::hooks::hook_body;
use crate::domain::gitlab::{GitLabGroup, ProjectHook};
use crate::domain::host::HostUrl;
use crate::ports::{GitLabError, HookSettings};

impl HttpGitLab {
    pub(super) async fn get_group(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
    ) -> Result<GitLabGroup, GitLabError> {
        // Without the group's projects: GitLab would list them all in the answer.
        let mut url = host.join(&format!("api/v4/groups/{group_id}"));
        url.query_pairs_mut().append_pair("with_projects", "false");
        self.get_json(url, token).await
    }

    pub(super) async fn list_group_hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
    ) -> Result<Vec<ProjectHook>, GitLabError> {
        self.every_hook_at(host, token, &format!("api/v4/groups/{group_id}/hooks"))
            .await
    }

    pub(super) async fn get_group_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
        hook_id: u64,
    ) -> Result<ProjectHook, GitLabError> {
        self.get_json(host.join(&format!("api/v4/groups/{group_id}/hooks/{hook_id}")), token)
            .await
    }

    pub(super) async fn save_group_hook_at(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError> {
        let request = match hook_id {
            Some(id) => self
                .client()
                .put(host.join(&format!("api/v4/groups/{group_id}/hooks/{id}"))),
            None => self
                .client()
                .post(host.join(&format!("api/v4/groups/{group_id}/hooks"))),
        };
        let response = self
            .send(self.with_token(request.json(&hook_body(hook)), Some(token)))
            .await?;
        json_within(response).await
    }

    pub(super) async fn test_group_hook_at(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
        hook_id: u64,
        trigger: &str,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!("api/v4/groups/{group_id}/hooks/{hook_id}/test/{trigger}"));
        self.send(self.with_token(self.client().post(url), Some(token))).await?;
        Ok(())
    }

    pub(super) async fn delete_group_hook_at(
        &self,
        host: &HostUrl,
        token: &SecretString,
        group_id: u64,
        hook_id: u64,
    ) -> Result<(), GitLabError> {
        self.delete_with(host.join(&format!("api/v4/groups/{group_id}/hooks/{hook_id}")), token)
            .await
    }
}
