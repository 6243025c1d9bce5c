//! HMAC-SHA256, the keyed hash behind webhook signatures, signing keys and PKCE verifiers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An HMAC-SHA256 over `key`, ready for `update`.
pub fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length (longer keys are hashed, shorter ones padded), so this
    // constructor cannot fail; its `Result` only serves MACs with fixed key sizes.
    #[allow(clippy::expect_used)]
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length")
}
