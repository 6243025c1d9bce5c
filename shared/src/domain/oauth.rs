//! GitLab OAuth application mode: pending authorizations (state), PKCE, GitLab's token answers,
//! and the rules for where a browser may be sent back to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use hmac::Mac;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::domain::ids::IntegrationId;

/// How long an authorization may take, from authorize to callback.
pub const STATE_TTL_SECS: i64 = 600;

/// A token this close to its expiry is refreshed before use.
pub const REFRESH_MARGIN_SECS: i64 = 120;

/// The scope we ask for: project hooks need api, which also covers reading projects and cloning.
pub const SCOPE: &str = "api";

/// An authorization started by `authorize` and not yet completed. Keyed by the state's digest;
/// neither the state nor the PKCE verifier is stored (the verifier is derived from the state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub state_digest: String,
    pub integration_id: IntegrationId,
    pub requested_by: String,
    /// Where the browser goes once the callback succeeds.
    pub redirect_url: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A fresh `state`: 256 random bits, URL-safe.
pub fn new_state() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(BASE64URL.encode(bytes))
}

pub fn state_digest(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// The PKCE verifier of a state: HMAC-SHA256(master key, state), 43 URL-safe characters.
/// Deriving it means no verifier is ever stored, yet any Lambda can complete the exchange.
pub fn pkce_verifier(master: &SecretString, state: &str) -> SecretString {
    let mut mac = crate::domain::keyed_hash::hmac_sha256(master.expose_secret().as_bytes());
    mac.update(b"oore-pkce-verifier\0");
    mac.update(state.as_bytes());
    SecretString::from(BASE64URL.encode(mac.finalize().into_bytes()))
}

/// The S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &SecretString) -> String {
    BASE64URL.encode(Sha256::digest(verifier.expose_secret().as_bytes()))
}

/// An OAuth application's credentials.
pub struct OAuthClient {
    pub id: String,
    pub secret: SecretString,
}

/// GitLab's answer from `POST /oauth/token`.
#[derive(Debug)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    /// Seconds; GitLab since 15.0 always sends 7200. Older versions send none (no expiry).
    pub expires_in: Option<i64>,
}

/// The answer's wire form; turned into [`OAuthTokens`] at once so the tokens stay wrapped.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

impl OAuthTokens {
    /// Reads GitLab's token answer.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let answer: TokenAnswer = serde_json::from_slice(bytes)?;
        Ok(OAuthTokens {
            access_token: SecretString::from(answer.access_token),
            refresh_token: answer.refresh_token.map(SecretString::from),
            expires_in: answer.expires_in,
        })
    }

    /// When the access token expires, by our clock.
    pub fn expires_at(&self, now: i64) -> Option<i64> {
        // GitLab's number: one that would overflow is no expiry we can keep.
        self.expires_in.and_then(|secs| now.checked_add(secs))
    }
}

/// Whether `origin` (scheme://host[:port]) is one of the allowed UI origins, as CORS and
/// OAuth redirects both decide it.
pub fn origin_allowed(allowed_origins: &[String], origin: &str) -> bool {
    allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// Checks a UI redirect URL: absolute http(s), no credentials, and on an allowed origin.
pub fn check_redirect_url(raw: &str, allowed_origins: &[String]) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|_| "redirect_url is not an absolute URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("redirect_url must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("redirect_url must not carry credentials".into());
    }
    let origin = url.origin().ascii_serialization();
    if !origin_allowed(allowed_origins, &origin) {
        return Err(format!("{origin} is not an allowed UI origin"));
    }
    Ok(url)
}

/// The UI URL a successful callback sends the browser to.
pub fn success_redirect(redirect_url: &str, integration_id: &IntegrationId) -> String {
    match Url::parse(redirect_url) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("gitlab", "success")
                .append_pair("integration_id", integration_id.as_str());
            url.to_string()
        }
        Err(_) => redirect_url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_valid_pkce_and_tied_to_state_and_key() {
        let master = SecretString::from("m");
        let v = pkce_verifier(&master, "s1");
        assert_eq!(v.expose_secret().len(), 43);
        assert!(
            v.expose_secret()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(v.expose_secret(), pkce_verifier(&master, "s1").expose_secret());
        assert_ne!(v.expose_secret(), pkce_verifier(&master, "s2").expose_secret());
        assert_ne!(
            v.expose_secret(),
            pkce_verifier(&SecretString::from("n"), "s1").expose_secret()
        );
        // RFC 7636 appendix B.
        let rfc = SecretString::from("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(pkce_challenge(&rfc), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn reads_gitlabs_token_answer_old_and_new() {
        let old = include_str!("../../../local/fixtures/gitlab/api/oauth-token.json");
        let tokens = OAuthTokens::from_json(old.as_bytes()).unwrap();
        assert!(!tokens.access_token.expose_secret().is_empty());
        assert_eq!(tokens.expires_at(100), None, "the pre-15.0 answer has no expires_in");
        let new = br#"{"access_token":"a","token_type":"Bearer","expires_in":7200,"refresh_token":"r","scope":"api","created_at":1}"#;
        let tokens = OAuthTokens::from_json(new).unwrap();
        assert_eq!(tokens.expires_at(100), Some(7300));
        let huge = br#"{"access_token":"a","token_type":"Bearer","expires_in":9223372036854775807}"#;
        assert_eq!(OAuthTokens::from_json(huge).unwrap().expires_at(100), None);
        assert!(!format!("{tokens:?}").contains("\"a\""));
    }

    #[test]
    fn redirect_urls_must_be_on_an_allowed_origin_without_credentials() {
        let allowed = vec!["https://ui.example.com".to_string()];
        assert!(check_redirect_url("https://ui.example.com/settings?tab=1", &allowed).is_ok());
        assert!(check_redirect_url("https://UI.example.com/x", &allowed).is_ok());
        assert!(check_redirect_url("https://evil.example.com/", &allowed).is_err());
        assert!(check_redirect_url("https://ui.example.com:8443/", &allowed).is_err());
        assert!(check_redirect_url("https://user:pw@ui.example.com/", &allowed).is_err());
        assert!(check_redirect_url("javascript:alert(1)", &allowed).is_err());
        assert!(check_redirect_url("/relative", &allowed).is_err());
        assert_eq!(
            success_redirect("https://ui.example.com/s?tab=1", &"abc".into()),
            "https://ui.example.com/s?tab=1&gitlab=success&integration_id=abc"
        );
    }
}
