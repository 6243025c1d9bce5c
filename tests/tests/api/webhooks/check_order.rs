//! The order of a delivery's checks, pinned: a body over the limit is refused before its token
//! is looked at, a missing token before the body is parsed, and a body that is not JSON before
//! its secret is looked up. Each case fails two checks; the answer names the earlier one.

use crate::webhooks::{connected, deliver, fixture, gitlab_headers};
use oore_gitlab_tests::Backend;

const UNKNOWN_SECRET: &str = "oore_0000000000000000000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn a_delivery_failing_two_checks_is_answered_by_the_first() {
    let (h, _) = connected(Backend::Memory).await;
    let no_token: Vec<(String, String)> = gitlab_headers("Push Hook", "")
        .into_iter()
        .filter(|(name, _)| name != "x-gitlab-token")
        .collect();
    let huge = vec![b' '; shared::inbound::http::handlers::MAX_WEBHOOK_BODY + 1];
    let not_json = b"event=push".to_vec();
    let push = serde_json::to_vec(&fixture("push.json")).unwrap();
    let cases = [
        (
            "over the limit, without a token",
            no_token.clone(),
            huge,
            413,
            "payload_too_large",
        ),
        (
            "without a token, not JSON",
            no_token,
            not_json.clone(),
            401,
            "missing_token",
        ),
        (
            "not JSON, an unknown secret",
            gitlab_headers("Push Hook", UNKNOWN_SECRET),
            not_json,
            400,
            "invalid_payload",
        ),
        (
            "JSON, an unknown secret",
            gitlab_headers("Push Hook", UNKNOWN_SECRET),
            push,
            401,
            "invalid_token",
        ),
    ];
    for (what, headers, body, status, code) in cases {
        let (answered, answer) = deliver(&h, &headers, &body).await;
        assert_eq!(
            (answered, answer["code"].as_str()),
            (status, Some(code)),
            "{what}: {answer}"
        );
    }
}
