//! The group hooks we registered at GitLab: one hook stands for every project under a group's
//! path, subgroups and projects created later included; what GitLab last said of its health;
//! and which projects it covers.

use serde::{Deserialize, Serialize};

use crate::domain::hooks::EXECUTABLE;

/// One group hook we registered, kept under its integration by group id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHookRecord {
    pub group_id: u64,
    /// The group's `full_path` when the hook was registered (`parent/child` for a subgroup).
    pub full_path: String,
    pub hook_id: u64,
    /// `executable`, `temporarily_disabled` or `disabled`, as GitLab last reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<String>,
    /// When a temporarily disabled hook delivers again (GitLab's timestamp, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_until: Option<String>,
    /// When GitLab was last asked (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
    /// When a delivery carrying the group's secret last arrived (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_at: Option<i64>,
}

impl GroupHookRecord {
    /// Whether the hook fires for the project at `project_path` (`path_with_namespace`).
    pub fn covers(&self, project_path: &str) -> bool {
        lies_under(project_path, &self.full_path)
    }

    /// Whether GitLab reported the hook disabled (for a while or for good).
    pub fn disabled(&self) -> bool {
        self.alert_status.as_deref().is_some_and(|s| s != EXECUTABLE)
    }
}

/// Whether the project at `project_path` lies in the group at `group_path` or one of its
/// subgroups. GitLab's paths are case-insensitive.
pub fn lies_under(project_path: &str, group_path: &str) -> bool {
    let (project, group) = (project_path.to_lowercase(), group_path.to_lowercase());
    !group.is_empty() && project.strip_prefix(&group).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_covers_its_projects_and_its_subgroups_only() {
        assert!(lies_under("acme/app", "acme"));
        assert!(lies_under("acme/mobile/ios", "acme"));
        assert!(lies_under("Acme/Mobile/ios", "acme/mobile"));
        assert!(!lies_under("acme-labs/app", "acme"), "a sibling with the same prefix");
        assert!(!lies_under("acme", "acme"), "the group is no project of itself");
        assert!(!lies_under("other/acme/app", "acme"));
        assert!(!lies_under("acme/app", ""));
    }
}
