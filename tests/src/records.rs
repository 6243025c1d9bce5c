//! Store records as tests write them: integrations, installations, repositories, deliveries
//! and triggers with plain, predictable fields.

use shared::domain::delivery::{DeliveryOutcome, DeliveryRecord};
use shared::domain::host::{HostPolicy, HostUrl};
use shared::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use shared::domain::integration::{AuthMode, Installation, IntegrationRecord, IntegrationStatus, Repository};
use shared::domain::trigger::Trigger;
use shared::domain::webhook::{BuildRequest, TriggerEvent};

/// An active personal-token integration created at 100.
pub fn record(id: &IntegrationId) -> IntegrationRecord {
    let host = HostUrl::parse("https://gitlab.example.com/gitlab", &HostPolicy::default()).unwrap();
    let mut record = IntegrationRecord::new(
        host,
        AuthMode::PersonalToken,
        IntegrationStatus::Active,
        format!("Integration {id}"),
        "user-1".into(),
        100,
    );
    record.id = id.clone();
    record.gitlab_user_id = Some(7);
    record
}

/// The fixture user's installation.
pub fn installation(integration: &IntegrationId, id: &str) -> Installation {
    Installation {
        id: id.into(),
        integration_id: integration.clone(),
        external_id: "john_smith".into(),
        account_name: "john_smith".into(),
        account_type: Some("user".into()),
        created_at: 100,
    }
}

/// Project `project`'s repository (private when even, of sync generation `project % 3`).
pub fn repo(integration: &IntegrationId, project: u64) -> Repository {
    let external_id = ProjectId(project);
    Repository {
        archived: false,
        id: RepositoryId::derive(integration, external_id),
        integration_id: integration.clone(),
        installation_id: "inst-1".into(),
        external_id,
        full_name: format!("group/project-{project}"),
        default_branch: Some("main".into()),
        is_private: project.is_multiple_of(2),
        avatar_url: None,
        clone_url: None,
        sync_generation: project % 3,
        created_at: 100,
        updated_at: 100,
    }
}

/// A push delivery for project 1, kept a day.
pub fn delivery(integration: &IntegrationId, key: &str, at: i64, outcome: DeliveryOutcome) -> DeliveryRecord {
    DeliveryRecord {
        id: uuid::Uuid::new_v4().to_string(),
        integration_id: integration.clone(),
        delivery_key: key.into(),
        event: "push".into(),
        project_id: Some(ProjectId(1)),
        repository_id: Some(RepositoryId::derive(integration, ProjectId(1))),
        outcome,
        reason: None,
        trigger_id: None,
        received_at: at,
        expires_at: at + 86_400,
    }
}

/// A queued push trigger for project 1 on main, of a commit named after `key` (so another key
/// is another build, and the same key the same one).
pub fn trigger(integration: &IntegrationId, key: &str, at: i64) -> Trigger {
    let commit = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes()).simple();
    let request = BuildRequest {
        event: TriggerEvent::Push,
        git_ref: "refs/heads/main".into(),
        branch: Some("main".into()),
        tag: None,
        commit_sha: format!("{commit}00000000"),
        actor: Some("u".into()),
        merge_request: None,
    };
    Trigger::queued(request, &repo(integration, 1), key, at)
}
