//! The fake GitLab's OAuth provider, following Doorkeeper's rules as GitLab runs it:
//! `/oauth/authorize` (redirects back with a code, or with an error), `/oauth/token`
//! (authorization_code with PKCE checked and single-use codes; refresh_token that revokes the
//! old refresh token at once; 2-hour tokens), `/oauth/revoke`, and counters tests read.

pub mod routes;

use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};

/// GitLab's access token lifetime since 15.0.
pub const EXPIRES_IN: i64 = 7200;

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

/// The provider's state: registered applications, codes and tokens it issued, counters.
#[derive(Default)]
pub struct FakeOAuth {
    /// client id → (secret, redirect URI).
    apps: Mutex<HashMap<String, (String, String)>>,
    codes: Mutex<HashMap<String, Grant>>,
    /// live refresh token → client id.
    refresh_tokens: Mutex<HashMap<String, String>>,
    /// access tokens issued, in order.
    access_tokens: Mutex<Vec<String>>,
    /// The next authorization is declined by the user.
    pub deny_next: AtomicBool,
    /// Refresh grants served (new tokens issued).
    pub refreshes: AtomicU64,
    /// Code exchanges served.
    pub exchanges: AtomicU64,
    /// Tokens revoked through /oauth/revoke.
    pub revocations: AtomicU64,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl FakeOAuth {
    /// Registers an application, as an admin does in GitLab's settings.
    pub fn add_app(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.apps
            .lock()
            .unwrap()
            .insert(client_id.into(), (secret.into(), redirect_uri.into()));
    }

    /// The access tokens issued so far, oldest first.
    pub fn access_tokens(&self) -> Vec<String> {
        self.access_tokens.lock().unwrap().clone()
    }

    /// Whether a refresh token is still accepted.
    pub fn refresh_token_live(&self, token: &str) -> bool {
        self.refresh_tokens.lock().unwrap().contains_key(token)
    }

    pub fn live_refresh_tokens(&self) -> usize {
        self.refresh_tokens.lock().unwrap().len()
    }

    fn client_ok(&self, client_id: &str, secret: &str) -> bool {
        self.apps
            .lock()
            .unwrap()
            .get(client_id)
            .is_some_and(|(s, _)| s == secret)
    }
}
