//! Typed helpers for the calls most tests repeat: connect the test token, read an integration,
//! and deliver a payload (a push, say) the way GitLab does.

use http::Method;
use serde_json::{Value, json};
use shared::domain::ids::IntegrationId;
use shared::inbound::http::auth::Role;

use crate::harness::Harness;

/// What connecting the test token answered.
pub struct Connected {
    pub id: IntegrationId,
    /// The integration-wide webhook secret, shown once.
    pub webhook_secret: String,
    /// The whole answer, for what the fields above leave out.
    pub answer: Value,
}

/// A push of `commit` to `main` of GitLab project `project`, as GitLab sends it; the payload
/// claims the path `path_claimed` (the service must take the stored one).
pub fn push_payload(project: u64, commit: &str, message: &str, path_claimed: &str) -> Value {
    json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": commit,
        "checkout_sha": commit,
        "user_username": "jsmith",
        "project": {"id": project, "path_with_namespace": path_claimed},
        "commits": [{"id": commit, "message": message}],
    })
}

impl Harness {
    /// Connects the fake GitLab with the test token (`PAT`) and waits for the first sync.
    pub async fn connect_token(&self) -> Connected {
        let answer = self.connect().await;
        Connected {
            id: IntegrationId::from(answer["integration"]["id"].as_str().expect("an id").to_string()),
            webhook_secret: answer["webhook_secret"].as_str().expect("a webhook secret").to_string(),
            answer,
        }
    }

    /// The integration's detail as its owner reads it.
    pub async fn integration(&self, id: &IntegrationId) -> Value {
        let (status, detail) = self
            .call(Method::GET, &format!("/v1/integrations/{id}"), Some(Role::Owner), None)
            .await;
        assert_eq!(status, 200, "GET /v1/integrations/{id}: {detail}");
        detail
    }

    /// Delivers `payload` as GitLab does, with `secret` as its token and `event` as its
    /// `X-Gitlab-Event`; answers the status and the JSON answer.
    pub async fn deliver(&self, secret: &str, event: &str, payload: &Value) -> (u16, Value) {
        let headers = [
            ("x-gitlab-token".to_string(), secret.to_string()),
            ("x-gitlab-event".to_string(), event.to_string()),
        ];
        let (status, _, body) = self
            .send(
                Method::POST,
                "/v1/webhooks/gitlab",
                &headers,
                Some(payload.to_string().into_bytes()),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}
