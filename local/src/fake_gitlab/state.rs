//! The fake GitLab's state: its users' tokens, the options a test starts it with, and what
//! each part of it (projects, hooks, OAuth, builds) holds.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub(crate) const USER: &str = include_str!("../../fixtures/gitlab/api/user.json");

pub(crate) const TOKEN_SELF: &str = include_str!("../../fixtures/gitlab/api/personal-access-token.json");

pub(crate) const PROJECTS: &str = include_str!("../../fixtures/gitlab/api/projects.json");

/// How a token the fake knows behaves.
#[derive(Debug, Clone)]
pub struct FakeToken {
    /// The GitLab user it acts as (the fixture user, with this id and username).
    pub user_id: u64,
    pub username: String,
    pub scopes: Vec<String>,
    /// `YYYY-MM-DD`, or None for a token that never expires.
    pub expires_at: Option<String>,
    pub state: TokenState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Live,
    /// 401 `invalid_token` "Token is expired…".
    Expired,
    /// 401 `invalid_token` "Token was revoked…".
    Revoked,
}

impl FakeToken {
    /// A live token of the fixture user (id 1, john_smith) with `scopes`.
    pub fn live(scopes: &[&str]) -> Self {
        FakeToken {
            user_id: 1,
            username: "john_smith".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at: Some("2099-01-01".into()),
            state: TokenState::Live,
        }
    }
}

/// Settings of a fake GitLab.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Relative URL root, e.g. `/gitlab` (empty for none).
    pub prefix: String,
    /// How many projects the listing holds.
    pub projects: usize,
    /// Delay before every answer.
    pub delay: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            prefix: String::new(),
            projects: 3,
            delay: Duration::ZERO,
        }
    }
}

/// Shared state, readable by tests: counters and knobs.
pub struct FakeState {
    pub(crate) tokens: Mutex<HashMap<String, FakeToken>>,
    /// The project listing (`projects`).
    pub projects: crate::fake_gitlab::projects::FakeProjects,
    pub(crate) delay_ms: AtomicU64,
    /// The next N project-listing requests answer 429 with `Retry-After: 1`.
    pub(crate) rate_limit_next: AtomicU32,
    /// Answer every request with 503 (GitLab down).
    pub failing: std::sync::atomic::AtomicBool,
    /// The share of API requests (percent) answered, at random, with 500, 502 or 429 (with
    /// `Retry-After: 1`), as GitLab having a bad moment does; 0 by default.
    pub failure_percent: AtomicU32,
    /// API requests the failure rate failed.
    pub failed_at_random: AtomicU64,
    pub project_requests: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub(crate) base_url: Mutex<String>,
    /// Project id → its hooks (as GitLab answers them, plus the `token` GitLab never shows).
    pub(crate) hooks: Mutex<HashMap<u64, Vec<Value>>>,
    pub(crate) next_hook_id: AtomicU64,
    /// The status the hooks' URL is taken to answer GitLab's test deliveries with (a 2xx
    /// re-enables), for services the fake cannot reach; 0 (the default) delivers the test to
    /// the URL itself.
    pub hook_test_answer: std::sync::atomic::AtomicU16,
    /// `GET /projects/:id` requests served.
    pub project_lookups: AtomicU64,
    /// The OAuth provider (`/oauth/…`).
    pub oauth: crate::fake_gitlab::oauth::FakeOAuth,
    /// Commit statuses and deploy tokens (`builds`).
    pub builds: crate::fake_gitlab::builds::FakeBuilds,
    /// Project members and merge request notes (`merge_requests`).
    pub merge_requests: crate::fake_gitlab::merge_requests::FakeMergeRequests,
    /// Groups, subgroups and their hooks (`groups`).
    pub groups: crate::fake_gitlab::groups::FakeGroups,
    /// GitLab's rate limit, when a test sets one.
    pub rate: crate::fake_gitlab::rate_limit::RateWindows,
}

impl FakeState {
    /// Marks a known token revoked (GitLab's "Token was revoked" 401). False if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.set_token_state(token, TokenState::Revoked)
    }

    /// Marks a known token expired, as two hours passing would. False if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        self.set_token_state(token, TokenState::Expired)
    }

    pub fn token_state(&self, token: &str) -> Option<TokenState> {
        self.tokens.lock().unwrap().get(token).map(|t| t.state)
    }

    fn set_token_state(&self, token: &str, state: TokenState) -> bool {
        match self.tokens.lock().unwrap().get_mut(token) {
            Some(t) => {
                t.state = state;
                true
            }
            None => false,
        }
    }

    /// Adds one project built from `project` (e.g. the `project` object of a webhook fixture)
    /// on top of the listing template, so it has every field a listing has.
    pub fn add_project(&self, project: &Value) {
        let template: Vec<Value> = serde_json::from_str(PROJECTS).expect("projects fixture is JSON");
        let mut p = template[0].clone();
        for field in [
            "id",
            "name",
            "path_with_namespace",
            "default_branch",
            "web_url",
            "avatar_url",
        ] {
            if let Some(v) = project.get(field) {
                p[field] = v.clone();
            }
        }
        if let Some(level) = project.get("visibility_level").and_then(Value::as_u64) {
            p["visibility"] = json!(match level {
                20 => "public",
                10 => "internal",
                _ => "private",
            });
        }
        self.projects.add(p);
    }

    /// Removes every hook of a project, as someone deleting them at GitLab would.
    pub fn hooks_clear(&self, project_id: u64) {
        self.hooks.lock().unwrap().remove(&project_id);
    }

    /// The hooks of a project, with the secret each was given.
    pub fn hooks(&self, project_id: u64) -> Vec<Value> {
        self.hooks.lock().unwrap().get(&project_id).cloned().unwrap_or_default()
    }

    pub fn add_token(&self, token: &str, spec: FakeToken) {
        self.tokens.lock().unwrap().insert(token.to_string(), spec);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn rate_limit_next(&self, requests: u32) {
        self.rate_limit_next.store(requests, Ordering::SeqCst);
    }

    /// Replaces the listing with `count` projects generated from the fixture.
    pub fn set_projects(&self, count: usize) {
        let base = self.base_url.lock().unwrap().clone();
        self.projects.set_generated(count, &base);
    }

    /// Removes projects by id (a project deleted at GitLab).
    /// Changes a project as an edit at GitLab would (archive, rename, transfer).
    pub fn modify_project(&self, id: u64, change: impl FnOnce(&mut Value)) {
        self.projects.modify(id, change);
    }

    pub fn remove_projects(&self, ids: &[u64]) {
        self.projects.remove(ids);
    }

    pub fn project_count(&self) -> usize {
        self.projects.count()
    }
}
