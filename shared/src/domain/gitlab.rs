//! What we read from GitLab's API (only the fields we use) and the rules we apply to it.

use serde::Deserialize;

use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::integration::Repository;

/// `GET /api/v4/user`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GitLabUser {
    pub id: u64,
    pub username: String,
    pub name: Option<String>,
}

impl GitLabUser {
    /// The integration's name as the daemon forms it: "{name or username} ({host})".
    pub fn integration_name(&self, host_label: &str) -> String {
        let name = self
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.username.clone());
        format!("{name} ({host_label})")
    }
}

/// `GET /api/v4/personal_access_tokens/self`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TokenInfo {
    /// The token's id at GitLab (what access token expiry events name).
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD` or null.
    pub expires_at: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A group, as `GET /api/v4/groups/:id` shows it (what we read of it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GitLabGroup {
    pub id: u64,
    /// `parent/child` for a subgroup: the prefix of its projects' `path_with_namespace`.
    pub full_path: String,
}

/// One hook of `GET /api/v4/projects/:id/hooks` (or of a group's hooks, which share the shape).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProjectHook {
    pub id: u64,
    pub url: String,
    #[serde(default)]
    pub push_events: bool,
    #[serde(default)]
    pub tag_push_events: bool,
    #[serde(default)]
    pub merge_requests_events: bool,
    /// `executable`, `temporarily_disabled` or `disabled` (GitLab 15.x and later).
    #[serde(default)]
    pub alert_status: Option<String>,
    /// When a temporarily disabled hook delivers again.
    #[serde(default)]
    pub disabled_until: Option<String>,
}

/// One project of `GET /api/v4/projects` (full, not `simple=true`, so `visibility` is present).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GitLabProject {
    pub id: ProjectId,
    pub path_with_namespace: String,
    pub default_branch: Option<String>,
    /// `public`, `internal` or `private`; older `simple` answers omit it.
    pub visibility: Option<String>,
    pub avatar_url: Option<String>,
    /// The HTTPS clone URL.
    #[serde(default)]
    pub http_url_to_repo: Option<String>,
    /// Archived projects are listed but never build.
    #[serde(default)]
    pub archived: bool,
}

impl GitLabProject {
    /// Only public projects are public: internal ones need a GitLab login to clone.
    /// A missing visibility is treated as private, the safe side.
    pub fn is_private(&self) -> bool {
        self.visibility.as_deref() != Some("public")
    }

    pub fn to_repository(&self, integration_id: &IntegrationId, installation_id: &str, now: i64) -> Repository {
        Repository {
            id: RepositoryId::derive(integration_id, self.id),
            integration_id: integration_id.clone(),
            installation_id: installation_id.to_string(),
            external_id: self.id,
            full_name: self.path_with_namespace.clone(),
            default_branch: self.default_branch.clone(),
            is_private: self.is_private(),
            avatar_url: self.avatar_url.clone(),
            clone_url: self.http_url_to_repo.clone(),
            archived: self.archived,
            sync_generation: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The scopes a personal token must have for us to list projects and clone them:
/// (api or read_api) and (api or read_repository). Returns the missing requirement, if any.
pub fn missing_scopes(scopes: &[String]) -> Option<&'static str> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if !(has("api") || has("read_api")) {
        return Some("the token needs the api or read_api scope to list projects");
    }
    if !(has("api") || has("read_repository")) {
        return Some("the token needs the api or read_repository scope to clone repositories");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_rules() {
        assert_eq!(missing_scopes(&scopes(&["api"])), None);
        assert_eq!(missing_scopes(&scopes(&["read_api", "read_repository"])), None);
        assert!(
            missing_scopes(&scopes(&["read_api"]))
                .unwrap()
                .contains("read_repository")
        );
        assert!(
            missing_scopes(&scopes(&["read_repository", "read_user"]))
                .unwrap()
                .contains("read_api")
        );
        assert!(missing_scopes(&[]).is_some());
    }

    #[test]
    fn visibility_decides_privacy() {
        let mut p = GitLabProject {
            id: ProjectId(1),
            path_with_namespace: "a/b".into(),
            default_branch: None,
            visibility: Some("public".into()),
            avatar_url: None,
            http_url_to_repo: None,
            archived: false,
        };
        assert!(!p.is_private());
        p.visibility = Some("internal".into());
        assert!(p.is_private());
        p.visibility = Some("private".into());
        assert!(p.is_private());
        p.visibility = None;
        assert!(p.is_private());
    }
}
