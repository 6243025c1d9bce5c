//! The SAM template serves exactly the shared route table: one function per route, built from
//! the binary of the same name, on the route's method and path.

use shared::http::routes::ROUTES;

/// (binary, method, path) of every function in the template, read line by line: the template
/// writes each function as `Binary:` … `Method:` … `Path:` in that order.
fn template_functions() -> Vec<(String, String, String)> {
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut found = Vec::new();
    let mut binary = None;
    let mut method = None;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Binary:") {
            binary = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Method:") {
            method = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Path:") {
            found.push((binary.take().expect("Binary before Path"), method.take().expect("Method before Path"), v.trim().to_string()));
        }
    }
    found
}

#[test]
fn template_routes_match_the_route_table() {
    let mut in_template = template_functions();
    let mut in_code: Vec<_> = ROUTES.iter().map(|r| (r.function.to_string(), r.method.to_string(), r.path.to_string())).collect();
    in_template.sort();
    in_code.sort();
    assert_eq!(in_template, in_code);
}

#[test]
fn every_route_has_a_function_crate() {
    for route in ROUTES {
        let main = format!("{}/../functions/{}/src/main.rs", env!("CARGO_MANIFEST_DIR"), route.function);
        let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{main}: {e}"));
        assert!(text.contains(&format!("RouteId::{:?}", route.id)), "{main} must serve {:?}", route.id);
    }
}
