//! CORS: the UI's origins may call the UI's routes from a browser (preflight and answers carry
//! the headers); other origins and the public routes get none.

use http::Method;
use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use shared::inbound::http::auth::Role;

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn the_ui_origin_may_call_the_ui_routes_and_nothing_else() {
    let h = Harness::new(Backend::Memory, FakeOptions::default()).await;
    let ui = "https://ui.example.com";
    let preflight = |origin: &str, method: &str| {
        headers(&[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", "authorization"),
        ])
    };

    let (status, answer, _) = h
        .send(
            Method::OPTIONS,
            "/v1/integrations/abc/repositories",
            &preflight(ui, "GET"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(answer["access-control-allow-origin"], ui);
    assert_eq!(answer["access-control-allow-methods"], "GET");
    assert!(
        answer["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    for (origin, method, path, why) in [
        ("https://evil.example.com", "GET", "/v1/integrations", "another origin"),
        (ui, "POST", "/v1/webhooks/gitlab", "the webhook is not the UI's"),
        (
            ui,
            "GET",
            "/v1/integrations/gitlab/callback",
            "nor is the OAuth callback",
        ),
        (ui, "PUT", "/v1/integrations/abc", "a method the route does not have"),
        (ui, "GET", "/v1/nothing/here", "a path that is no route"),
    ] {
        let (status, answer, _) = h.send(Method::OPTIONS, path, &preflight(origin, method), None).await;
        assert_eq!(status, 403, "{why}");
        assert!(answer.get("access-control-allow-origin").is_none(), "{why}");
    }

    // Answers: the UI's routes name the allowed origin; public routes and other origins get nothing.
    let token = format!("Bearer {}", h.token(Role::Owner));
    let (status, answer, _) = h
        .send(
            Method::GET,
            "/v1/integrations",
            &headers(&[("origin", ui), ("authorization", &token)]),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["access-control-allow-origin"].to_str().unwrap()),
        (200, ui)
    );
    let (_, answer, _) = h
        .send(Method::GET, "/v1/integrations", &headers(&[("origin", ui)]), None)
        .await;
    assert_eq!(answer["access-control-allow-origin"], ui, "errors reach the UI too");
    let (_, answer, _) = h
        .send(
            Method::GET,
            "/v1/integrations",
            &headers(&[("origin", "https://evil.example.com"), ("authorization", &token)]),
            None,
        )
        .await;
    assert!(answer.get("access-control-allow-origin").is_none());
    let (_, answer, _) = h
        .send(
            Method::POST,
            "/v1/webhooks/gitlab",
            &headers(&[("origin", ui)]),
            Some(b"{}".to_vec()),
        )
        .await;
    assert!(answer.get("access-control-allow-origin").is_none());
}
