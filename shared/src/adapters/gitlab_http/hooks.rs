//! GitLab's hook endpoints, for a project's hooks and a group's alike: list, read one, save,
//! and the test delivery that re-enables a disabled hook.

use secrecy::{ExposeSecret, SecretString};

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::{header_u32, json_within, link_next_page};
use crate::domain::gitlab::ProjectHook;
use crate::domain::host::HostUrl;
use crate::ports::{GitLabError, HookOwner, HookSettings};

impl HttpGitLab {
    /// Every page of the owner's hooks.
    pub(super) async fn list_hooks(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
    ) -> Result<Vec<ProjectHook>, GitLabError> {
        let mut hooks = Vec::new();
        let mut page = 1;
        loop {
            let mut url = host.join(&owner.hooks_path());
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
        owner: HookOwner,
        hook_id: u64,
    ) -> Result<ProjectHook, GitLabError> {
        self.get_json(host.join(&format!("{}/{hook_id}", owner.hooks_path())), token)
            .await
    }

    /// GitLab sends the hook a test event of `trigger`; a 2xx answer from the hook re-enables it.
    /// GitLab answers 201 when the hook answered 2xx, else 422 (the hook's answer as message).
    pub(super) async fn send_test_delivery(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: u64,
        trigger: &str,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!("{}/{hook_id}/test/{trigger}", owner.hooks_path()));
        self.send(self.with_token(self.client().post(url), Some(token))).await?;
        Ok(())
    }

    /// Creates a hook (`hook_id` none) or updates one, with the settings (and token) given.
    pub(super) async fn put_hook(
        &self,
        host: &HostUrl,
        token: &SecretString,
        owner: HookOwner,
        hook_id: Option<u64>,
        hook: &HookSettings,
    ) -> Result<ProjectHook, GitLabError> {
        let path = owner.hooks_path();
        let request = match hook_id {
            Some(id) => self.client().put(host.join(&format!("{path}/{id}"))),
            None => self.client().post(host.join(&path)),
        };
        let response = self
            .send(self.with_token(request.json(&hook_body(hook)), Some(token)))
            .await?;
        json_within(response).await
    }
}

/// What GitLab is sent to save a hook (the token is sent, never shown back).
fn hook_body(hook: &HookSettings) -> serde_json::Value {
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
