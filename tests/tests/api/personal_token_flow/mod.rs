//! The personal-token flow through the handlers, request in and response out, against the fake
//! GitLab: on the embedded adapters and on DynamoDB and Secrets Manager (moto). The whole flow
//! here; refusals, and failed writes and syncs, in their own modules.

mod failures;
mod refusals;

use http::Method;
use oore_gitlab_tests::on_backends;
use oore_gitlab_tests::{Backend, Harness, PAT};
use oore_local::fake_gitlab::{AVATAR_PNG, FakeOptions};
use serde_json::{Value, json};
use shared::inbound::http::auth::Role;
use std::time::Duration;

pub(crate) const OWNER: Option<Role> = Some(Role::Owner);

pub(crate) fn options(projects: usize) -> FakeOptions {
    FakeOptions {
        prefix: "/gitlab".into(),
        projects,
        delay: Duration::ZERO,
    }
}

pub(crate) async fn whole_flow(backend: Backend) {
    let h = Harness::new(backend, options(250)).await;
    let started = h.connect().await;
    let integration = &started["integration"];
    let id = integration["id"].as_str().unwrap().to_string();
    assert_eq!(integration["status"], "active");
    assert_eq!(integration["auth_mode"], "personal_token");
    assert_eq!(integration["provider"], "gitlab");
    assert_eq!(
        integration["host_url"], h.gitlab.base_url,
        "the /gitlab path prefix is kept"
    );
    assert!(
        integration["display_name"]
            .as_str()
            .unwrap()
            .starts_with("John Smith (")
    );
    assert_eq!(integration["created_by"], "user-1");
    assert_eq!(started["webhook_url"], "https://oore.example.com/v1/webhooks/gitlab");
    let secret = started["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("oore_") && secret.len() == 69);
    assert!(!started.to_string().contains(PAT), "the GitLab token is never echoed");

    let (status, list) = h
        .call(Method::GET, "/v1/integrations", Some(Role::Developer), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (list["total"].as_i64(), list["active_total"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(list["integrations"][0]["id"], id.as_str());

    let (status, detail) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}"),
            Some(Role::QaViewer),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["repository_count"], 250);
    assert_eq!(detail["installation_count"], 1);
    assert_eq!(detail["last_webhook_at"], Value::Null);

    // Repositories: sorted by full name, paged, searchable, privacy from visibility.
    let (status, page) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=3&offset=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 250);
    let names: Vec<_> = page["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "diaspora/project-00001",
            "diaspora/project-00002",
            "diaspora/project-00003"
        ]
    );
    let first = &page["repositories"][0];
    assert_eq!(first["external_id"], "1001");
    assert_eq!(first["is_private"], true, "internal projects are private");
    assert_eq!(first["default_branch"], "master");
    let (_, public) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?q=public&limit=100"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(public["total"], 84, "every third of 250 projects is public");
    assert!(
        public["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["is_private"] == false)
    );

    let (status, all) = h
        .call(Method::GET, "/v1/integration-repositories?q=project-00007", OWNER, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 1);
    assert_eq!(all["repositories"][0]["integration_id"], id.as_str());
    assert_eq!(all["repositories"][0]["host_url"], h.gitlab.base_url);
    assert_eq!(all["repositories"][0]["provider"], "gitlab");

    // Avatar through the integration's token.
    let (_, first_page) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=1"),
            OWNER,
            None,
        )
        .await;
    let repo_id = first_page["repositories"][0]["id"].as_str().unwrap().to_string();
    let (status, headers, bytes) = h
        .raw(
            Method::GET,
            &format!("/v1/integration-repositories/{repo_id}/avatar"),
            Some(&h.token(Role::Developer)),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    assert_eq!(bytes, AVATAR_PNG);
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/repositories?limit=1&offset=1"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Re-sync: projects gone at GitLab are removed.
    h.gitlab.state.remove_projects(&[1000, 1001, 1002]);
    let (status, synced) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["installations"][0]["account_name"], "john_smith");
    assert_eq!(synced["installations"][0]["account_type"], "user");
    let (_, detail) = h
        .call(Method::GET, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!(detail["repository_count"], 247);
    let (status, _, _) = h
        .raw(
            Method::GET,
            &format!("/v1/integration-repositories/{repo_id}/avatar"),
            Some(&h.token(Role::Owner)),
            None,
        )
        .await;
    assert_eq!(status, 404, "a removed repository has no avatar any more");

    let (status, installs) = h
        .call(
            Method::GET,
            &format!("/v1/integrations/{id}/installations"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(installs["installations"].as_array().unwrap().len(), 1);

    // Token health.
    let (status, check) = h
        .call(
            Method::POST,
            &format!("/v1/integrations/{id}/gitlab-token/check"),
            OWNER,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(check["status"], "valid");
    assert_eq!(check["expires_at"], 4_070_995_200i64, "end of 2099-01-01");
    assert_eq!(check["checked_at"], oore_gitlab_tests::START_TIME);

    // Delete: records and the secret go; a second delete finds nothing.
    let secret_name = h.app.services.config.credentials_secret_name(&id.as_str().into());
    assert!(h.app.services.vault.get_secret(&secret_name).await.unwrap().is_some());
    let (status, ok) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!((status, ok), (200, json!({"ok": true})));
    assert!(
        h.app.services.vault.get_secret(&secret_name).await.unwrap().is_none(),
        "the GitLab token is removed from the vault"
    );
    // The records go in the background, soon after the delete answered.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let integration_id = id.as_str().into();
        let repositories = h
            .app
            .services
            .repositories
            .list_repositories(&integration_id)
            .await
            .unwrap();
        let installations = h
            .app
            .services
            .integrations
            .list_installations(&integration_id)
            .await
            .unwrap();
        if repositories.is_empty() && installations.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted integration's records were not removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, gone) = h
        .call(Method::DELETE, &format!("/v1/integrations/{id}"), OWNER, None)
        .await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("not_found")));
    let (_, list) = h.call(Method::GET, "/v1/integrations", OWNER, None).await;
    assert_eq!(list["total"], 0);
}

on_backends!(app whole_flow: memory, embedded, moto);

pub(crate) fn start_body(host: &str, token: &str) -> String {
    json!({"host_url": host, "auth_mode": "personal_token", "access_token": token}).to_string()
}
