//! The one route table: every endpoint's method, path and access. The local runner serves it,
//! each Lambda serves one row of it, and a test holds the SAM template to it.

use http::Method;

use crate::inbound::http::auth::Access;

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

/// What a function does with the table, in IAM's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableUse {
    /// GetItem, Query, BatchGetItem.
    pub read: bool,
    /// PutItem, UpdateItem, ConditionCheckItem (alone or in a transaction).
    pub write: bool,
    /// DeleteItem (alone or in a transaction).
    pub delete: bool,
    /// BatchWriteItem (many puts or deletes in one call).
    pub batch_write: bool,
}

const NO_TABLE: TableUse = TableUse {
    read: false,
    write: false,
    delete: false,
    batch_write: false,
};
const TABLE_READ: TableUse = TableUse { read: true, ..NO_TABLE };
const TABLE_WRITE: TableUse = TableUse {
    write: true,
    ..TABLE_READ
};

impl TableUse {
    /// The same, for a function that deletes single items.
    const fn deleting(self) -> TableUse {
        TableUse { delete: true, ..self }
    }

    /// The same, for a function that writes many items at once.
    const fn batch_writing(self) -> TableUse {
        TableUse {
            batch_write: true,
            ..self
        }
    }
}

/// What a function does with integrations' credentials in Secrets Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialUse {
    Read,
    Write,
    Create,
    Delete,
}

/// A function's AWS permissions. Routes that need a caller read the caller-token key as well.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub table: TableUse,
    /// Reads the master key (webhook signing keys, PKCE verifiers).
    pub master_key: bool,
    pub credentials: &'static [CredentialUse],
    /// Starts repository syncs: sends jobs to the sync queue.
    pub sync_queue: bool,
}

const fn needs(table: TableUse, master_key: bool, credentials: &'static [CredentialUse]) -> Needs {
    Needs {
        table,
        master_key,
        credentials,
        sync_queue: false,
    }
}

impl Needs {
    /// The same, for a function that starts repository syncs.
    const fn starting_syncs(self) -> Needs {
        Needs {
            sync_queue: true,
            ..self
        }
    }
}

use CredentialUse::{Create, Delete, Read as CredRead, Write as CredWrite};

/// Any handler that calls GitLab with an OAuth token may refresh it: read, then write the pair.
const REFRESHES: &[CredentialUse] = &[CredRead, CredWrite];

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

impl Route {
    /// Whether the path ends in API Gateway's greedy `{proxy+}`, which takes the rest of a path.
    pub fn is_catch_all(&self) -> bool {
        self.path.ends_with("+}")
    }

    #[allow(
        clippy::expect_used,
        reason = "a unit test holds every RouteId to a row of the table"
    )]
    pub fn get(id: RouteId) -> &'static Route {
        ROUTES.iter().find(|r| r.id == id).expect("every RouteId has a row")
    }

    /// The path parameters if `path` fits this route's pattern. Literal segments win over
    /// parameters because [`find`] tries literal-only patterns first.
    pub fn match_path(&self, path: &str) -> Option<Vec<String>> {
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_end_matches('/').trim_start_matches('/').split('/').collect();
        if self.is_catch_all() {
            let fixed = pattern.len() - 1;
            if actual.len() <= fixed
                || pattern[..fixed] != actual[..fixed]
                || actual[fixed..].iter().any(|a| a.is_empty())
            {
                return None;
            }
            return Some(vec![actual[fixed..].join("/")]);
        }
        if pattern.len() != actual.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, a) in pattern.iter().zip(&actual) {
            if p.starts_with('{') {
                if a.is_empty() {
                    return None;
                }
                params.push(percent_decode(a));
            } else if p != a {
                return None;
            }
        }
        Some(params)
    }
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What the table says of a request: the route and its parameters, or why none fits.
pub enum Lookup {
    Found(&'static Route, Vec<String>),
    /// The path exists, the method does not.
    MethodNotAllowed,
    NotFound,
}

/// Finds the route for a method and path. `/v1/integrations/gitlab/start` must not be taken
/// for `/v1/integrations/{id}`: patterns with fewer parameters are tried first.
pub fn find(method: &Method, path: &str) -> Lookup {
    let mut candidates: Vec<&'static Route> = ROUTES.iter().collect();
    candidates.sort_by_key(|r| r.path.matches('{').count());
    let mut path_known = false;
    for route in candidates {
        if let Some(params) = route.match_path(path) {
            if route.method == method {
                return Lookup::Found(route, params);
            }
            // The preflight's `{proxy+}` fits every path; it does not make a path known.
            path_known |= !route.is_catch_all();
        }
    }
    if path_known {
        Lookup::MethodNotAllowed
    } else {
        Lookup::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_paths_win_over_parameters() {
        match find(&Method::POST, "/v1/integrations/gitlab/start") {
            Lookup::Found(r, p) => {
                assert_eq!(r.id, RouteId::GitLabStart);
                assert!(p.is_empty());
            }
            _ => panic!("start route not found"),
        }
        match find(&Method::GET, "/v1/integrations/abc/repositories") {
            Lookup::Found(r, p) => {
                assert_eq!(r.id, RouteId::ListRepositories);
                assert_eq!(p, vec!["abc".to_string()]);
            }
            _ => panic!("repositories route not found"),
        }
        assert!(matches!(
            find(&Method::PUT, "/v1/integrations/abc"),
            Lookup::MethodNotAllowed
        ));
        match find(&Method::OPTIONS, "/v1/integrations/abc/repositories") {
            Lookup::Found(r, p) => {
                assert_eq!(r.id, RouteId::CorsPreflight);
                assert_eq!(p, vec!["integrations/abc/repositories".to_string()]);
            }
            _ => panic!("preflight route not found"),
        }
        assert!(matches!(find(&Method::OPTIONS, "/v1"), Lookup::NotFound));
        assert!(matches!(find(&Method::GET, "/v1/nothing"), Lookup::NotFound));
        assert!(matches!(
            find(&Method::GET, "/v1/integrations//repositories"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn every_route_id_has_one_row_and_unique_function() {
        let mut functions: Vec<_> = ROUTES.iter().map(|r| r.function).collect();
        functions.sort();
        functions.dedup();
        assert_eq!(functions.len(), ROUTES.len());
    }
}
