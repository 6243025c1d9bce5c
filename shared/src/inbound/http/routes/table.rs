//! The table itself: every endpoint's id, method, path, access, function name and AWS needs.

use http::Method;

use crate::inbound::http::auth::Access;
use crate::inbound::http::routes::needs::{CredentialUse, NO_TABLE, Needs, REFRESHES, TABLE_READ, TABLE_WRITE, needs};

/// Every endpoint, one Lambda each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    GitLabStart,
    GitLabAuthorize,
    GitLabCallback,
    ListIntegrations,
    GetIntegration,
    UpdateIntegration,
    DeleteIntegration,
    ListRepositories,
    ListSourceRepositories,
    RepositoryAvatar,
    ListInstallations,
    SyncInstallations,
    CheckGitLabToken,
    ReplaceGitLabToken,
    GitLabWebhook,
    RotateWebhookSecret,
    RotateIntegrationWebhookSecret,
    RegisterWebhook,
    RegisterGroupWebhook,
    ListGroupWebhooks,
    DeleteGroupWebhook,
    ListDeliveries,
    ListBuildTriggers,
    GetBuildTrigger,
    ClaimBuildTrigger,
    ReportBuildStatus,
    CorsPreflight,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Route {
    pub id: RouteId,
    pub method: Method,
    /// API Gateway's form: `{id}` marks a path parameter.
    pub path: &'static str,
    pub access: Access,
    /// The function's name under `functions/` and in the template.
    pub function: &'static str,
    /// What the function's IAM role must allow, and nothing more (a test holds the template to it).
    pub needs: Needs,
}

use CredentialUse::{Create, Delete, Read as CredRead, Write as CredWrite};

const fn route(
    id: RouteId,
    method: Method,
    path: &'static str,
    access: Access,
    function: &'static str,
    needs: Needs,
) -> Route {
    Route {
        id,
        method,
        path,
        access,
        function,
        needs,
    }
}

pub const ROUTES: &[Route] = &[
    route(
        RouteId::GitLabStart,
        Method::POST,
        "/v1/integrations/gitlab/start",
        Access::Write,
        "gitlab-start",
        needs(TABLE_WRITE, true, &[Create, Delete]).starting_syncs(),
    ),
    route(
        RouteId::GitLabAuthorize,
        Method::POST,
        "/v1/integrations/gitlab/authorize",
        Access::Write,
        "gitlab-authorize",
        needs(TABLE_WRITE.deleting(), true, REFRESHES).starting_syncs(),
    ),
    route(
        RouteId::GitLabCallback,
        Method::GET,
        "/v1/integrations/gitlab/callback",
        Access::Public,
        "gitlab-callback",
        needs(TABLE_WRITE.deleting(), true, REFRESHES).starting_syncs(),
    ),
    route(
        RouteId::ListIntegrations,
        Method::GET,
        "/v1/integrations",
        Access::Read,
        "list-integrations",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::GetIntegration,
        Method::GET,
        "/v1/integrations/{id}",
        Access::Read,
        "get-integration",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::UpdateIntegration,
        Method::PATCH,
        "/v1/integrations/{id}",
        Access::Write,
        "update-integration",
        needs(TABLE_WRITE, false, &[]),
    ),
    route(
        RouteId::DeleteIntegration,
        Method::DELETE,
        "/v1/integrations/{id}",
        Access::Write,
        "delete-integration",
        // The removal of its items is queued for the sync worker.
        needs(
            TABLE_WRITE.deleting().batch_writing(),
            false,
            &[CredRead, CredWrite, Delete],
        )
        .starting_syncs(),
    ),
    route(
        RouteId::ListRepositories,
        Method::GET,
        "/v1/integrations/{id}/repositories",
        Access::Read,
        "list-repositories",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::ListSourceRepositories,
        Method::GET,
        "/v1/integration-repositories",
        Access::Read,
        "list-source-repositories",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::RepositoryAvatar,
        Method::GET,
        "/v1/integration-repositories/{id}/avatar",
        Access::Read,
        "repository-avatar",
        needs(TABLE_WRITE, false, REFRESHES),
    ),
    route(
        RouteId::ListInstallations,
        Method::GET,
        "/v1/integrations/{id}/installations",
        Access::Read,
        "list-installations",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::SyncInstallations,
        Method::POST,
        "/v1/integrations/{id}/installations",
        Access::Write,
        "sync-installations",
        needs(TABLE_WRITE, false, REFRESHES).starting_syncs(),
    ),
    route(
        RouteId::CheckGitLabToken,
        Method::POST,
        "/v1/integrations/{id}/gitlab-token/check",
        Access::Write,
        "check-gitlab-token",
        needs(TABLE_WRITE, false, &[CredRead]),
    ),
    route(
        RouteId::ReplaceGitLabToken,
        Method::PUT,
        "/v1/integrations/{id}/gitlab-token",
        Access::Write,
        "replace-gitlab-token",
        needs(TABLE_WRITE, false, &[CredWrite, Create]),
    ),
    route(
        RouteId::GitLabWebhook,
        Method::POST,
        "/v1/webhooks/gitlab",
        Access::Public,
        "gitlab-webhook",
        needs(TABLE_WRITE.batch_writing(), true, REFRESHES),
    ),
    route(
        RouteId::RotateIntegrationWebhookSecret,
        Method::POST,
        "/v1/integrations/{id}/gitlab-webhook-secret",
        Access::Write,
        "rotate-integration-webhook-secret",
        needs(TABLE_WRITE.deleting(), true, &[]),
    ),
    route(
        RouteId::RotateWebhookSecret,
        Method::POST,
        "/v1/integration-repositories/{id}/gitlab-webhook-secret",
        Access::Write,
        "rotate-webhook-secret",
        needs(TABLE_WRITE.deleting(), true, &[]),
    ),
    route(
        RouteId::RegisterWebhook,
        Method::POST,
        "/v1/integration-repositories/{id}/gitlab-webhook",
        Access::Write,
        "register-webhook",
        needs(TABLE_WRITE.deleting(), false, REFRESHES),
    ),
    route(
        RouteId::RegisterGroupWebhook,
        Method::POST,
        "/v1/integrations/{id}/gitlab-group-webhooks",
        Access::Write,
        "register-group-webhook",
        needs(TABLE_WRITE.deleting(), false, REFRESHES),
    ),
    route(
        RouteId::ListGroupWebhooks,
        Method::GET,
        "/v1/integrations/{id}/gitlab-group-webhooks",
        Access::Read,
        "list-group-webhooks",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::DeleteGroupWebhook,
        Method::DELETE,
        "/v1/integrations/{id}/gitlab-group-webhooks/{hook_id}",
        Access::Write,
        "delete-group-webhook",
        needs(TABLE_WRITE.deleting(), false, REFRESHES),
    ),
    route(
        RouteId::ListDeliveries,
        Method::GET,
        "/v1/integrations/{id}/deliveries",
        Access::Read,
        "list-deliveries",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::ListBuildTriggers,
        Method::GET,
        "/v1/build-triggers",
        Access::TriggerRead,
        "list-build-triggers",
        // Claims that ran out are queued again (and their deploy tokens revoked) as the queue is read.
        needs(TABLE_WRITE, false, REFRESHES),
    ),
    route(
        RouteId::GetBuildTrigger,
        Method::GET,
        "/v1/build-triggers/{id}",
        Access::TriggerRead,
        "get-build-trigger",
        needs(TABLE_READ, false, &[]),
    ),
    route(
        RouteId::ClaimBuildTrigger,
        Method::POST,
        "/v1/build-triggers/{id}/claim",
        Access::TriggerWork,
        "claim-build-trigger",
        needs(TABLE_WRITE, false, REFRESHES),
    ),
    route(
        RouteId::ReportBuildStatus,
        Method::POST,
        "/v1/build-triggers/{id}/status",
        Access::TriggerWork,
        "report-build-status",
        needs(TABLE_WRITE, false, REFRESHES),
    ),
    // Browsers ask before calling the UI's routes from another origin; the answer depends on
    // the route asked about (public routes get no CORS), so it is ours, not API Gateway's.
    route(
        RouteId::CorsPreflight,
        Method::OPTIONS,
        "/v1/{proxy+}",
        Access::Public,
        "cors-preflight",
        needs(NO_TABLE, false, &[]),
    ),
];
