//! The Standard Webhooks signature GitLab can put on a delivery: checking it, making one as
//! GitLab would, and the signing key's text form.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac;

use crate::domain::keyed_hash::hmac_sha256;

/// How far a signed delivery's timestamp may be from our clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 5 * 60;

/// Why a signed delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("webhook-id, webhook-timestamp and webhook-signature must be sent together")]
    Incomplete,
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    #[error("webhook-timestamp is more than five minutes from now")]
    Stale,
    #[error("no webhook-signature matches")]
    Mismatch,
}

/// The Standard Webhooks headers of a delivery, when GitLab signs it.
#[derive(Debug, Clone, Default)]
pub struct SignatureHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl SignatureHeaders<'_> {
    pub fn present(&self) -> bool {
        self.id.is_some() || self.timestamp.is_some() || self.signature.is_some()
    }
}

/// Verifies `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` (any of several
/// space-separated signatures may match) and that the timestamp is within the tolerance.
pub fn verify_signature(
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    key: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(id), Some(timestamp), Some(signatures)) = (headers.id, headers.timestamp, headers.signature) else {
        return Err(SignatureError::Incomplete);
    };
    let sent_at: i64 = timestamp.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    // A caller picks `sent_at`: `abs_diff` cannot overflow where `now - sent_at` could.
    if now.abs_diff(sent_at) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mut mac = hmac_sha256(key);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    for candidate in signatures.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(bytes) = BASE64.decode(encoded) else { continue };
        // verify_slice compares in constant time.
        if mac.clone().verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs as GitLab would; used by tests and by anyone checking a key by hand.
pub fn sign(id: &str, timestamp: i64, body: &[u8], key: &[u8]) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// A signing key as GitLab shows and takes it: `whsec_` + base64 of the key bytes.
pub fn signing_key_text(key: &[u8]) -> String {
    format!("whsec_{}", BASE64.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_forgery_staleness_and_partial_headers() {
        let key = b"0123456789abcdef0123456789abcdef";
        let body = br#"{"object_kind":"push"}"#;
        let good = sign("msg_1", 1000, body, key);
        let headers = |sig: &'static str, ts: &'static str| SignatureHeaders {
            id: Some("msg_1"),
            timestamp: Some(ts),
            signature: Some(sig),
        };
        let good: &'static str = Box::leak(format!("v1,bogus {good}").into_boxed_str());
        assert_eq!(verify_signature(&headers(good, "1000"), body, key, 1100), Ok(()));
        assert_eq!(
            verify_signature(&headers(good, "1000"), b"{}", key, 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&headers(good, "1000"), body, b"other", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&headers(good, "1000"), body, key, 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(&headers(good, "x"), body, key, 1000),
            Err(SignatureError::BadTimestamp)
        );
        let partial = SignatureHeaders {
            id: Some("msg_1"),
            timestamp: None,
            signature: Some(good),
        };
        assert_eq!(
            verify_signature(&partial, body, key, 1000),
            Err(SignatureError::Incomplete)
        );
        assert!(signing_key_text(key).starts_with("whsec_"));
    }

    #[test]
    fn timestamps_at_the_ends_of_the_range_are_stale_not_an_overflow() {
        let key = b"0123456789abcdef0123456789abcdef";
        for (sent, now) in [(i64::MIN, 1000), (i64::MAX, -1000), (i64::MIN, i64::MAX)] {
            let ts = sent.to_string();
            let sig = sign("m", sent, b"{}", key);
            let headers = SignatureHeaders {
                id: Some("m"),
                timestamp: Some(&ts),
                signature: Some(&sig),
            };
            assert_eq!(verify_signature(&headers, b"{}", key, now), Err(SignatureError::Stale));
        }
    }
}
