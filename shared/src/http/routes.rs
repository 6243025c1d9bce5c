//! The one route table: every endpoint's method, path and access. The local runner serves it,
//! each Lambda serves one row of it, and a test holds the SAM template to it.

use http::Method;

use super::auth::Access;

/// Every endpoint, one Lambda each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    GitLabStart,
    GitLabAuthorize,
    GitLabCallback,
    ListIntegrations,
    GetIntegration,
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
    RegisterWebhook,
    ListDeliveries,
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
}

const fn route(id: RouteId, method: Method, path: &'static str, access: Access, function: &'static str) -> Route {
    Route { id, method, path, access, function }
}

pub const ROUTES: &[Route] = &[
    route(RouteId::GitLabStart, Method::POST, "/v1/integrations/gitlab/start", Access::Write, "gitlab-start"),
    route(RouteId::GitLabAuthorize, Method::POST, "/v1/integrations/gitlab/authorize", Access::Write, "gitlab-authorize"),
    route(RouteId::GitLabCallback, Method::GET, "/v1/integrations/gitlab/callback", Access::Public, "gitlab-callback"),
    route(RouteId::ListIntegrations, Method::GET, "/v1/integrations", Access::Read, "list-integrations"),
    route(RouteId::GetIntegration, Method::GET, "/v1/integrations/{id}", Access::Read, "get-integration"),
    route(RouteId::DeleteIntegration, Method::DELETE, "/v1/integrations/{id}", Access::Write, "delete-integration"),
    route(RouteId::ListRepositories, Method::GET, "/v1/integrations/{id}/repositories", Access::Read, "list-repositories"),
    route(RouteId::ListSourceRepositories, Method::GET, "/v1/integration-repositories", Access::Read, "list-source-repositories"),
    route(RouteId::RepositoryAvatar, Method::GET, "/v1/integration-repositories/{id}/avatar", Access::Read, "repository-avatar"),
    route(RouteId::ListInstallations, Method::GET, "/v1/integrations/{id}/installations", Access::Read, "list-installations"),
    route(RouteId::SyncInstallations, Method::POST, "/v1/integrations/{id}/installations", Access::Write, "sync-installations"),
    route(RouteId::CheckGitLabToken, Method::POST, "/v1/integrations/{id}/gitlab-token/check", Access::Write, "check-gitlab-token"),
    route(RouteId::ReplaceGitLabToken, Method::PUT, "/v1/integrations/{id}/gitlab-token", Access::Write, "replace-gitlab-token"),
    route(RouteId::GitLabWebhook, Method::POST, "/v1/webhooks/gitlab", Access::Public, "gitlab-webhook"),
    route(RouteId::RotateWebhookSecret, Method::POST, "/v1/integration-repositories/{id}/gitlab-webhook-secret", Access::Write, "rotate-webhook-secret"),
    route(RouteId::RegisterWebhook, Method::POST, "/v1/integration-repositories/{id}/gitlab-webhook", Access::Write, "register-webhook"),
    route(RouteId::ListDeliveries, Method::GET, "/v1/integrations/{id}/deliveries", Access::Read, "list-deliveries"),
];

impl Route {
    pub fn get(id: RouteId) -> &'static Route {
        ROUTES.iter().find(|r| r.id == id).expect("every RouteId has a row")
    }

    /// The path parameters if `path` fits this route's pattern. Literal segments win over
    /// parameters because [`find`] tries literal-only patterns first.
    pub fn match_path(&self, path: &str) -> Option<Vec<String>> {
        let pattern: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_end_matches('/').trim_start_matches('/').split('/').collect();
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
            path_known = true;
        }
    }
    if path_known { Lookup::MethodNotAllowed } else { Lookup::NotFound }
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
        assert!(matches!(find(&Method::PATCH, "/v1/integrations/abc"), Lookup::MethodNotAllowed));
        assert!(matches!(find(&Method::GET, "/v1/nothing"), Lookup::NotFound));
        assert!(matches!(find(&Method::GET, "/v1/integrations//repositories"), Lookup::NotFound));
    }

    #[test]
    fn every_route_id_has_one_row_and_unique_function() {
        let mut functions: Vec<_> = ROUTES.iter().map(|r| r.function).collect();
        functions.sort();
        functions.dedup();
        assert_eq!(functions.len(), ROUTES.len());
    }
}
