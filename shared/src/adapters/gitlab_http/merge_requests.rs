//! What merge requests need from GitLab: a commenter's or author's access level, the summary
//! note (written, then edited), and commit statuses on the request's pipeline.

use secrecy::SecretString;

use crate::adapters::gitlab_http::HttpGitLab;
use crate::adapters::gitlab_http::answers::json_within;
use crate::domain::host::HostUrl;
use crate::domain::ids::ProjectId;
use crate::ports::{CommitStatus, GitLabError};

/// The part of GitLab's member and note answers we read.
#[derive(serde::Deserialize)]
struct Member {
    access_level: u32,
}

#[derive(serde::Deserialize)]
struct Note {
    id: u64,
}

impl HttpGitLab {
    pub(super) async fn member_level(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        user_id: u64,
    ) -> Result<Option<u32>, GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/members/all/{user_id}"));
        match self.get_json::<Member>(url, token).await {
            Ok(member) => Ok(Some(member.access_level)),
            Err(GitLabError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub(super) async fn create_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        body: &str,
    ) -> Result<u64, GitLabError> {
        let url = host.join(&format!("api/v4/projects/{project_id}/merge_requests/{iid}/notes"));
        let request = self.client().post(url).json(&serde_json::json!({ "body": body }));
        let note: Note = json_within(self.send(self.with_token(request, Some(token))).await?).await?;
        Ok(note.id)
    }

    pub(super) async fn edit_note(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<(), GitLabError> {
        let url = host.join(&format!(
            "api/v4/projects/{project_id}/merge_requests/{iid}/notes/{note_id}"
        ));
        let request = self.client().put(url).json(&serde_json::json!({ "body": body }));
        self.send(self.with_token(request, Some(token))).await?;
        Ok(())
    }

    pub(super) async fn post_status(
        &self,
        host: &HostUrl,
        token: &SecretString,
        project_id: ProjectId,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitLabError> {
        let mut body = serde_json::json!({
            "state": status.state,
            "ref": status.git_ref,
            "name": status.name,
            "target_url": status.target_url,
            "description": status.description,
        });
        if let Some(pipeline) = status.pipeline_id {
            body["pipeline_id"] = pipeline.into();
        }
        let url = host.join(&format!("api/v4/projects/{project_id}/statuses/{sha}"));
        let posted = self
            .send(self.with_token(self.client().post(url.clone()).json(&body), Some(token)))
            .await;
        match posted {
            // A GitLab that refuses the pipeline (one gone, or a version that checks it) still
            // shows the status on the commit: once more, without it. Its "Cannot transition"
            // 400 names no pipeline and means the state is already shown.
            Err(GitLabError::NotFound | GitLabError::PipelineRefused) if status.pipeline_id.is_some() => {
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("pipeline_id");
                }
                self.send(self.with_token(self.client().post(url).json(&body), Some(token)))
                    .await?;
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}
