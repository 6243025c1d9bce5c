//! GitLab's group endpoint: a group's path, which its projects' paths begin with. Its hooks go
//! through the hook endpoints (`hooks.rs`) with a group as their owner.

use secrecy::SecretString;

use crate::adapters::gitlab_http::HttpGitLab;
use crate::domain::gitlab::GitLabGroup;
use crate::domain::host::HostUrl;
use crate::ports::GitLabError;

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
}
