//! The one route table: every endpoint's method, path and access. The local runner serves it,
//! each Lambda serves one row of it, and a test holds the SAM template to it.

use http::Method;

mod needs;
mod table;

pub use needs::{CredentialUse, Needs, TableUse};
pub use table::{ROUTES, Route, RouteId};

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
