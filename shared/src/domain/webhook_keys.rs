//! Webhook secrets as we keep them: only a digest of each secret, who it belongs to, until when it
//! is valid, and a salt from which its Standard Webhooks signing key is derived.
//!
//! The secret itself (`oore_` + 64 hex) is shown once and never stored. The signing key is
//! HMAC-SHA256(master key, salt): the master key lives in Secrets Manager and is read once per
//! container, so verifying a signed delivery needs no per-integration secret read.

use hmac::Mac;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::domain::ids::{IntegrationId, ProjectId};
use crate::domain::secrets::{generate_webhook_secret, webhook_secret_digest};

/// One webhook secret's stored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookKey {
    /// SHA-256 (hex) of the secret; deliveries are matched on it.
    pub digest: String,
    pub integration_id: IntegrationId,
    /// The GitLab project id this secret is limited to; `None` for the integration-wide secret.
    pub project_id: Option<ProjectId>,
    /// Random hex mixed with the master key into the signing key.
    pub salt: String,
    pub created_at: i64,
    /// Set when a rotation replaced this secret: it keeps working until then (the grace window).
    pub valid_until: Option<i64>,
    /// The integration requires signed deliveries: kept on each key so a delivery needs no read
    /// of the integration to know it.
    #[serde(default)]
    pub require_signature: bool,
    /// The group this secret is limited to (a group hook's): it verifies deliveries only for
    /// projects whose path lies under the group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<KeyGroup>,
}

/// The group a group hook's secret stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroup {
    pub id: u64,
    /// The group's `full_path` when the hook was registered.
    pub full_path: String,
}

/// A freshly issued secret: the record to keep and the values to show once.
pub struct IssuedKey {
    pub key: WebhookKey,
    pub secret: SecretString,
}

impl WebhookKey {
    /// Issues a new secret for an integration, or for one of its projects.
    pub fn issue(integration_id: &IntegrationId, project_id: Option<ProjectId>, now: i64) -> IssuedKey {
        let secret = generate_webhook_secret();
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let key = WebhookKey {
            digest: webhook_secret_digest(secret.expose_secret()),
            integration_id: integration_id.clone(),
            project_id,
            salt: hex::encode(salt),
            created_at: now,
            valid_until: None,
            require_signature: false,
            group: None,
        };
        IssuedKey { key, secret }
    }

    /// Issues a new secret for a group hook: good for the group's projects only.
    pub fn issue_for_group(integration_id: &IntegrationId, group: KeyGroup, now: i64) -> IssuedKey {
        let mut issued = WebhookKey::issue(integration_id, None, now);
        issued.key.group = Some(group);
        issued
    }

    /// The scope part of the key's storage address: `integration`, `project:{id}` or
    /// `group:{id}`; a rotation replaces the keys of one scope.
    pub fn scope(&self) -> String {
        match &self.group {
            Some(group) => format!("group:{}", group.id),
            None => scope_of(self.project_id),
        }
    }

    /// Whether `presented` is this secret and still valid at `now`. Compares in constant time.
    pub fn accepts(&self, presented: &str, now: i64) -> bool {
        let digest = webhook_secret_digest(presented);
        let same: bool = digest.as_bytes().ct_eq(self.digest.as_bytes()).into();
        same && self.valid_until.is_none_or(|until| now < until)
    }

    /// What a rotation of this key's scope does to it, the replaced secrets' grace ending at
    /// `previous_valid_until`: no older secret outlives that, whatever grace it had (so a
    /// rotation with grace 0 leaves only the new secret working), and expired ones go.
    pub fn after_rotation(&self, previous_valid_until: i64, now: i64) -> AfterRotation {
        match self.valid_until {
            Some(until) if until <= now => AfterRotation::Remove,
            Some(until) if until <= previous_valid_until => AfterRotation::Keep,
            _ => AfterRotation::ValidUntil(previous_valid_until),
        }
    }

    /// Whether the secret may be used for deliveries about `project_id`. A group's secret is
    /// checked again once the project's path is known ([`WebhookKey::covers_path`]).
    pub fn covers(&self, project_id: Option<ProjectId>) -> bool {
        match self.project_id {
            None => true,
            Some(own) => project_id == Some(own),
        }
    }

    /// Whether the secret may be used for the project at `project_path`: a group's only under
    /// the group's path, any other by [`WebhookKey::covers`] alone.
    pub fn covers_path(&self, project_path: &str) -> bool {
        self.group
            .as_ref()
            .is_none_or(|group| crate::domain::group_hooks::lies_under(project_path, &group.full_path))
    }

    /// The Standard Webhooks signing key of this secret.
    pub fn signing_key(&self, master: &SecretString) -> [u8; 32] {
        let mut mac = crate::domain::keyed_hash::hmac_sha256(master.expose_secret().as_bytes());
        mac.update(b"oore-webhook-signing-key\0");
        mac.update(self.salt.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// What a rotation does to one of the scope's older keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRotation {
    /// Its grace ends no later than the rotation's: left as it is.
    Keep,
    /// It works until then and no longer.
    ValidUntil(i64),
    /// It has expired.
    Remove,
}

/// The storage scope name for an integration-wide (`None`) or project secret.
pub fn scope_of(project_id: Option<ProjectId>) -> String {
    match project_id {
        None => "integration".to_string(),
        Some(id) => format!("project:{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_accepts_its_secret_until_its_grace_ends_and_only_for_its_project() {
        let issued = WebhookKey::issue(&"i1".into(), Some(ProjectId(42)), 100);
        let secret = issued.secret.expose_secret().to_string();
        let mut key = issued.key;
        assert!(key.accepts(&secret, 100));
        assert!(!key.accepts("oore_wrong", 100));
        assert!(key.covers(Some(ProjectId(42))));
        assert!(!key.covers(Some(ProjectId(43))));
        assert!(!key.covers(None));
        key.valid_until = Some(200);
        assert!(key.accepts(&secret, 199));
        assert!(!key.accepts(&secret, 200));
        assert!(!format!("{key:?}").contains(&secret));
    }

    #[test]
    fn a_group_key_has_a_scope_of_its_own_and_covers_the_groups_paths() {
        let group = KeyGroup {
            id: 9,
            full_path: "acme/mobile".into(),
        };
        let key = WebhookKey::issue_for_group(&"i1".into(), group, 0).key;
        assert_eq!(key.scope(), "group:9");
        assert!(key.covers(Some(ProjectId(1))), "any project, until its path is known");
        assert!(key.covers_path("acme/mobile/ios"));
        assert!(!key.covers_path("acme/web"));
        let plain = WebhookKey::issue(&"i1".into(), None, 0).key;
        assert!(plain.covers_path("anything/at/all"));
    }

    #[test]
    fn signing_keys_differ_per_secret_and_per_master() {
        let a = WebhookKey::issue(&"i1".into(), None, 0).key;
        let b = WebhookKey::issue(&"i1".into(), None, 0).key;
        let master = SecretString::from("master-1");
        assert_ne!(a.signing_key(&master), b.signing_key(&master));
        assert_ne!(a.signing_key(&master), a.signing_key(&SecretString::from("master-2")));
        assert_eq!(a.signing_key(&master), a.signing_key(&master));
        assert_eq!(a.scope(), "integration");
    }

    #[test]
    fn a_rotation_cuts_every_older_grace_to_its_own() {
        let mut key = WebhookKey::issue(&IntegrationId::from("i"), None, 100).key;
        assert_eq!(
            key.after_rotation(100, 100),
            AfterRotation::ValidUntil(100),
            "current, grace 0"
        );
        key.valid_until = Some(500);
        assert_eq!(
            key.after_rotation(100, 100),
            AfterRotation::ValidUntil(100),
            "in grace, cut by grace 0"
        );
        assert_eq!(
            key.after_rotation(900, 100),
            AfterRotation::Keep,
            "a longer grace leaves it"
        );
        key.valid_until = Some(100);
        assert_eq!(key.after_rotation(900, 100), AfterRotation::Remove, "expired");
    }
}
