//! Secret-bearing values: credentials kept in the vault and webhook secrets shown once.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the vault keeps for one integration, serialised as one JSON secret (one secret per
/// integration keeps the monthly Secrets Manager bill proportional to integrations).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Credentials {
    /// The personal access token, or the OAuth access token.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secret")]
    pub access_token: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secret")]
    pub refresh_token: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secret")]
    pub client_secret: Option<SecretString>,
    /// When the access token expires: lets a warm Lambda tell a cached copy from the one the
    /// integration record says is current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The integration record's `credentials_version` these credentials were written as: a
    /// warm cache holding an older version is not used.
    #[serde(default)]
    pub version: u64,
}

impl Credentials {
    /// A personal (or project, group) access token, written as `version`.
    pub fn personal(token: SecretString, version: u64) -> Self {
        Credentials {
            access_token: Some(token),
            version,
            ..Default::default()
        }
    }

    /// The JSON kept in the vault. It holds secrets: never log it.
    pub fn to_secret_json(&self) -> SecretString {
        let mut map = serde_json::Map::new();
        for (key, value) in [
            ("access_token", &self.access_token),
            ("refresh_token", &self.refresh_token),
            ("client_secret", &self.client_secret),
        ] {
            if let Some(v) = value {
                map.insert(key.into(), serde_json::Value::String(v.expose_secret().to_string()));
            }
        }
        if let Some(at) = self.expires_at {
            map.insert("expires_at".into(), serde_json::Value::from(at));
        }
        map.insert("version".into(), serde_json::Value::from(self.version));
        SecretString::from(serde_json::Value::Object(map).to_string())
    }

    pub fn from_secret_json(json: &SecretString) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json.expose_secret())
    }
}

mod opt_secret {
    use secrecy::SecretString;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        // Serialising through serde would risk a secret in a debug dump; `to_secret_json` is the one way out.
        s.serialize_str("[redacted]")
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
    }
}

/// A second handle on a secret value (`SecretString` is deliberately not `Clone`).
pub fn copy_secret(value: &SecretString) -> SecretString {
    SecretString::from(value.expose_secret().to_string())
}

/// A webhook secret as generated: `oore_` + 64 hex characters (256 random bits).
pub fn generate_webhook_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("oore_{}", hex::encode(bytes)))
}

/// The shortest key we sign or derive with: 256 bits. An empty or short key would sign and
/// verify as well as a long one, and be guessed.
pub const MIN_KEY_BYTES: usize = 32;

/// A signing or master key too short to be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} is {len} bytes long; it must be at least 32 bytes")]
pub struct WeakKey {
    pub what: &'static str,
    pub len: usize,
}

/// Refuses a key shorter than [`MIN_KEY_BYTES`]; `what` names it in the error.
pub fn require_strong_key(what: &'static str, key: &SecretString) -> Result<(), WeakKey> {
    let len = key.expose_secret().len();
    if len < MIN_KEY_BYTES {
        return Err(WeakKey { what, len });
    }
    Ok(())
}

/// A random 256-bit key in hex, for keys this process makes itself (the embedded runner's).
pub fn generate_master_key() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}

/// The stored form of a webhook secret.
pub fn webhook_secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_under_32_bytes_are_refused() {
        for short in ["", "k", &"a".repeat(31)] {
            let err = require_strong_key("master key", &SecretString::from(short.to_string())).unwrap_err();
            assert_eq!(err.len, short.len());
            assert!(err.to_string().contains("at least 32 bytes"));
        }
        assert_eq!(
            require_strong_key("master key", &SecretString::from("a".repeat(32))),
            Ok(())
        );
        assert_eq!(require_strong_key("master key", &generate_master_key()), Ok(()));
    }

    #[test]
    fn webhook_secrets_have_the_daemons_form_and_differ() {
        let a = generate_webhook_secret();
        let b = generate_webhook_secret();
        assert!(a.expose_secret().starts_with("oore_"));
        assert_eq!(a.expose_secret().len(), 5 + 64);
        assert!(a.expose_secret()[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(webhook_secret_digest("x").len(), 64);
    }

    #[test]
    fn credentials_round_trip_and_debug_redacts() {
        let creds = Credentials {
            access_token: Some("glpat-abc".into()),
            refresh_token: None,
            client_secret: Some("cs".into()),
            expires_at: Some(5),
            version: 3,
        };
        let json = creds.to_secret_json();
        let back = Credentials::from_secret_json(&json).unwrap();
        assert_eq!(back.version, 3);
        assert_eq!(back.access_token.unwrap().expose_secret(), "glpat-abc");
        assert_eq!(back.client_secret.unwrap().expose_secret(), "cs");
        assert!(back.refresh_token.is_none());
        assert_eq!(back.expires_at, Some(5));
        assert!(!format!("{creds:?}").contains("glpat-abc"));
    }
}
