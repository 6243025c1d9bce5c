//! Project deploy tokens: the read-only clone credential a claimed build gets.

use secrecy::SecretString;

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::{MOST_ANSWER_BYTES, body_within};
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::ports::{DeployToken, GitLabError};

impl HttpGitLab {
    /// `POST /projects/:id/deploy_tokens` with the `read_repository` scope only, until `expires_at`.
    pub(super) async fn issue_deploy_token(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        name: &str,
        expires_at: i64,
    ) -> Result<DeployToken, GitLabError> {
        #[derive(serde::Deserialize)]
        struct Issued {
            id: u64,
            username: String,
            token: String,
        }
        let expires = time::OffsetDateTime::from_unix_timestamp(expires_at)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .ok_or_else(|| GitLabError::Decode("the deploy token's expiry is out of range".into()))?;
        let body = serde_json::json!({"name": name, "scopes": ["read_repository"], "expires_at": expires});
        let url = host.join(&format!("api/v4/projects/{project_id}/deploy_tokens"));
        let response = self
            .send(self.with_token(self.client().post(url).json(&body), Some(token)))
            .await?;
        // The answer holds the token: a decode error must not quote it.
        let body = body_within(response, MOST_ANSWER_BYTES).await?;
        let issued: Issued = serde_json::from_slice(&body)
            .map_err(|_| GitLabError::Decode("GitLab's deploy token answer is not in the expected form".into()))?;
        Ok(DeployToken {
            id: issued.id,
            username: issued.username,
            token: SecretString::from(issued.token),
        })
    }
}
