//! The kind of event a GitLab delivery is, read from its body's `object_kind` or its
//! `X-Gitlab-Event` header.

use std::fmt;

use serde_json::Value;

/// A delivery's event. The kinds we act on are named; any other keeps GitLab's own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Push,
    TagPush,
    MergeRequest,
    Note,
    Issue,
    Pipeline,
    /// A job's event (GitLab calls jobs builds here).
    Build,
    System,
    /// GitLab's warning that a project or group access token expires soon.
    AccessToken,
    Other(String),
}

impl EventKind {
    /// The kind an `object_kind` names.
    pub fn from_object_kind(kind: &str) -> Self {
        match kind {
            "push" => EventKind::Push,
            "tag_push" => EventKind::TagPush,
            "merge_request" => EventKind::MergeRequest,
            "note" => EventKind::Note,
            "issue" => EventKind::Issue,
            "pipeline" => EventKind::Pipeline,
            "build" => EventKind::Build,
            "system" => EventKind::System,
            "access_token" => EventKind::AccessToken,
            other => EventKind::Other(other.to_string()),
        }
    }

    /// The kind as the delivery log and the delivery key name it (GitLab's `object_kind`).
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Push => "push",
            EventKind::TagPush => "tag_push",
            EventKind::MergeRequest => "merge_request",
            EventKind::Note => "note",
            EventKind::Issue => "issue",
            EventKind::Pipeline => "pipeline",
            EventKind::Build => "build",
            EventKind::System => "system",
            EventKind::AccessToken => "access_token",
            EventKind::Other(name) => name,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event's kind: `object_kind` when the body has one (hooks made by GitLab integrations
/// arrive as `Service Hook`), else the `X-Gitlab-Event` header.
pub fn event_kind(header: Option<&str>, payload: &Value) -> Option<EventKind> {
    if let Some(kind) = payload
        .get("object_kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    {
        return Some(EventKind::from_object_kind(kind));
    }
    let kind = match header?.trim() {
        "Push Hook" => EventKind::Push,
        "Tag Push Hook" => EventKind::TagPush,
        "Merge Request Hook" => EventKind::MergeRequest,
        "Note Hook" => EventKind::Note,
        "Issue Hook" | "Confidential Issue Hook" => EventKind::Issue,
        "Pipeline Hook" => EventKind::Pipeline,
        "Job Hook" => EventKind::Build,
        "System Hook" => EventKind::System,
        "" => return None,
        other => EventKind::from_object_kind(&other.to_lowercase().replace(' ', "_")),
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_prefers_object_kind_and_reads_the_header_otherwise() {
        assert_eq!(
            event_kind(Some("Service Hook"), &json!({"object_kind": "push"})),
            Some(EventKind::Push)
        );
        assert_eq!(event_kind(Some("Tag Push Hook"), &json!({})), Some(EventKind::TagPush));
        assert_eq!(
            event_kind(Some("Emoji Hook"), &json!({})),
            Some(EventKind::Other("emoji_hook".into()))
        );
        assert_eq!(event_kind(None, &json!({})), None);
    }

    #[test]
    fn every_named_kind_reads_back_from_its_own_name() {
        for kind in [
            EventKind::Push,
            EventKind::TagPush,
            EventKind::MergeRequest,
            EventKind::Note,
            EventKind::Issue,
            EventKind::Pipeline,
            EventKind::Build,
            EventKind::System,
            EventKind::AccessToken,
            EventKind::Other("wiki_page".into()),
        ] {
            assert_eq!(EventKind::from_object_kind(kind.as_str()), kind);
        }
    }
}
