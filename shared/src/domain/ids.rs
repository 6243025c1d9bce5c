//! Identifier newtypes, so an integration id can never be passed where a repository id belongs.
//!
//! Every id keeps the wire and storage form it had as a bare string: the string ids serialize
//! as themselves, and a GitLab project id, a number at GitLab, is kept and shown as a string
//! (the contract's `external_id`), parsed from either form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string id: transparent in serde, displayed as itself, comparable with strings.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(value.to_string())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

string_id!(
    /// An integration's id (a UUID string).
    IntegrationId
);

impl IntegrationId {
    /// A fresh random id for a new integration.
    pub fn generate() -> Self {
        IntegrationId(uuid::Uuid::new_v4().to_string())
    }
}

string_id!(
    /// A repository's id: derived from its integration and GitLab project (see [`RepositoryId::derive`]).
    RepositoryId
);

impl RepositoryId {
    /// Repository ids are derived from the integration and the GitLab project, so a re-sync
    /// (or two racing) upserts the same record instead of inventing a new id.
    pub fn derive(integration_id: &IntegrationId, project_id: ProjectId) -> Self {
        let name = format!("{integration_id}/{project_id}");
        RepositoryId(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string())
    }
}

string_id!(
    /// A build trigger's id (a UUID string).
    TriggerId
);

impl TriggerId {
    /// A fresh random id: a build asked for again on purpose (a retry) is a trigger of its own.
    pub fn generate() -> Self {
        TriggerId(uuid::Uuid::new_v4().to_string())
    }

    /// The id of the build `identity` names (integration, project, event kind, ref, commit):
    /// every delivery of the same push, a resend or a copy through another hook, derives the
    /// same id, so stores can keep one trigger per build with one conditional write.
    pub fn for_build(identity: &str) -> Self {
        TriggerId(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, identity.as_bytes()).to_string())
    }
}

/// A GitLab project id. A number at GitLab; a string in our answers and in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectId(pub u64);

impl ProjectId {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A text that is not a GitLab project id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a GitLab project id is a positive whole number")]
pub struct InvalidProjectId;

impl FromStr for ProjectId {
    type Err = InvalidProjectId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<u64>().map(ProjectId).map_err(|_| InvalidProjectId)
    }
}

impl From<u64> for ProjectId {
    fn from(value: u64) -> Self {
        ProjectId(value)
    }
}

impl Serialize for ProjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(ProjectId(n)),
            Either::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_id_is_a_string_on_the_wire_and_reads_either_form() {
        assert_eq!(serde_json::to_value(ProjectId(42)).unwrap(), serde_json::json!("42"));
        assert_eq!(
            serde_json::from_value::<ProjectId>(serde_json::json!("42")).unwrap(),
            ProjectId(42)
        );
        assert_eq!(
            serde_json::from_value::<ProjectId>(serde_json::json!(42)).unwrap(),
            ProjectId(42)
        );
        assert!(serde_json::from_value::<ProjectId>(serde_json::json!("4x")).is_err());
        assert!("-1".parse::<ProjectId>().is_err());
    }

    #[test]
    fn string_ids_are_transparent_and_repository_ids_stable() {
        let id = IntegrationId::from("abc");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("abc"));
        assert_eq!(id, "abc");
        let a = RepositoryId::derive(&id, ProjectId(7));
        assert_eq!(a, RepositoryId::derive(&id, ProjectId(7)));
        assert_ne!(a, RepositoryId::derive(&id, ProjectId(8)));
        // The derivation is the one repositories were stored under before the newtypes.
        let name = "abc/7";
        assert_eq!(
            a,
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
        );
    }
}
