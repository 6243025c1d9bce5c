//! The project hooks we registered at GitLab, what GitLab last said of their health, and when a
//! delivery for the project last arrived.

use serde::{Deserialize, Serialize};

use crate::domain::ids::ProjectId;

/// GitLab's `alert_status` of a hook that delivers.
pub const EXECUTABLE: &str = "executable";

/// One project's hook record. `hook_id` is absent where deliveries arrive for a project whose
/// hook we did not register (only `last_delivery_at` is known then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRecord {
    pub project_id: ProjectId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_id: Option<u64>,
    /// `executable`, `temporarily_disabled` or `disabled`, as GitLab last reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_status: Option<String>,
    /// When a temporarily disabled hook delivers again (GitLab's timestamp, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_until: Option<String>,
    /// When GitLab was last asked (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
    /// When a delivery for the project last arrived (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_at: Option<i64>,
}

/// What GitLab says of a hook's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookHealth {
    pub alert_status: Option<String>,
    pub disabled_until: Option<String>,
    pub checked_at: i64,
}

impl HookRecord {
    /// Whether GitLab reported the hook disabled (for a while or for good).
    pub fn disabled(&self) -> bool {
        self.alert_status.as_deref().is_some_and(|s| s != EXECUTABLE)
    }
}
