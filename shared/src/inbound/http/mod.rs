//! HTTP: the application state, request dispatch through the route table, and the handlers.

pub mod auth;
pub mod cors;
pub mod envelope;
pub mod errors;
pub mod handlers;
pub mod routes;
pub mod views;

use std::collections::HashMap;
use std::time::Instant;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::Services;
use crate::inbound::http::auth::{Access, Authenticator, Caller, authorize};
use crate::inbound::http::envelope::ApiError;
use crate::inbound::http::routes::{Lookup, Route, RouteId, find};

/// Largest JSON body the API routes accept.
pub const MAX_API_BODY: usize = 64 * 1024;

/// Everything a handler needs, built once per container: the use cases' ports and settings,
/// and the caller authentication in front of them.
#[derive(Clone)]
pub struct App {
    pub services: Services,
    pub auth: Authenticator,
}

/// A request's body as the route takes it.
pub enum RequestBody {
    /// An API route's JSON, already checked to parse (an empty body is `{}`).
    Json(serde_json::Value),
    /// A public route's exact bytes: webhook signatures are over them.
    Raw(bytes::Bytes),
}

/// A route was served without the path parameter its handler reads: a route table fault.
#[derive(Debug, thiserror::Error)]
#[error("the route has no path parameter")]
pub struct MissingPathParameter;

impl From<MissingPathParameter> for ApiError {
    fn from(err: MissingPathParameter) -> Self {
        tracing::error!(error = %err, "a handler read a path parameter its route lacks");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the route is misconfigured",
        )
    }
}

/// A request after routing, authentication and body parsing.
pub struct Ctx {
    pub params: Vec<String>,
    pub query: HashMap<String, String>,
    pub body: RequestBody,
    pub caller: Option<Caller>,
    /// The request's headers (public routes read theirs: GitLab's webhook headers).
    pub headers: http::HeaderMap,
    /// The public base URL for this request (see [`crate::config::Config::base_url`]).
    pub base_url: String,
}

impl Ctx {
    /// The route's `{id}` path parameter as the id type the handler expects.
    pub fn path_id<T: From<String>>(&self) -> Result<T, MissingPathParameter> {
        self.params.first().cloned().map(T::from).ok_or(MissingPathParameter)
    }

    /// The JSON body as `T`; a wrong shape or enum value is 400 invalid_request.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        match &self.body {
            RequestBody::Json(value) => serde_json::from_value(value.clone())
                .map_err(|e| ApiError::invalid_request(format!("request body: {e}"))),
            RequestBody::Raw(_) => Err(ApiError::invalid_request("this route takes no JSON body")),
        }
    }

    /// The exact bytes of a public route's body (empty for API routes, whose body is JSON).
    pub fn raw_body(&self) -> &[u8] {
        match &self.body {
            RequestBody::Raw(bytes) => bytes,
            RequestBody::Json(_) => &[],
        }
    }

    /// A header's value when it is present, visible ASCII and not blank.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The webhook URL GitLab should post to.
    pub fn webhook_url(&self) -> String {
        crate::config::webhook_url(&self.base_url)
    }

    /// The OAuth redirect URI.
    pub fn callback_url(&self) -> String {
        crate::config::callback_url(&self.base_url)
    }

    pub fn caller_id(&self) -> String {
        self.caller.as_ref().map(|c| c.user_id.clone()).unwrap_or_default()
    }

    /// An integer query parameter within `min..=max`, or `default` when absent.
    pub fn query_int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        match self.query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_request(format!("`{name}` must be a whole number from {min} to {max}"))
                }),
        }
    }
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::Text(body))
            .unwrap_or_default(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response could not be encoded",
        )
        .into_response(),
    }
}

fn query_map(req: &Request) -> HashMap<String, String> {
    // In Lambda the parsed parameters arrive as an extension; locally only the URI has them.
    let from_lambda = req.query_string_parameters();
    if !from_lambda.is_empty() {
        return from_lambda
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    req.uri()
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

impl App {
    /// Serves any route of the table (the local runner).
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (route, response) = match find(&method, &path) {
            Lookup::Found(route, params) => (Some(route), self.run(route, params, req).await),
            Lookup::MethodNotAllowed => (
                None,
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{method} is not allowed on {path}"),
                )
                .into_response(),
            ),
            Lookup::NotFound => (None, ApiError::not_found("route").into_response()),
        };
        log_request(
            &method,
            route.map(|r| r.path).unwrap_or("unmatched"),
            response.status(),
            started,
            None,
        );
        response
    }

    /// Serves one route (a Lambda function's own); any other path is 404.
    pub async fn handle_route(&self, id: RouteId, req: Request) -> Response<Body> {
        let started = Instant::now();
        let route = Route::get(id);
        let method = req.method().clone();
        let request_id = req.lambda_context_ref().map(|c| c.request_id.clone());
        let response = match route.match_path(req.uri().path()) {
            Some(params) if route.method == method => self.run(route, params, req).await,
            _ => ApiError::not_found("route").into_response(),
        };
        log_request(&method, route.path, response.status(), started, request_id.as_deref());
        response
    }

    /// The daemon's order of checks: authentication, body, permission, then the handler.
    /// Answers to the UI's routes carry CORS headers for an allowed origin.
    async fn run(&self, route: &'static Route, params: Vec<String>, req: Request) -> Response<Body> {
        let mut response = match self.prepare(route, params, &req).await {
            Ok(ctx) => match handlers::dispatch(self, route.id, ctx).await {
                Ok(response) => response,
                Err(err) => err.into_response(),
            },
            Err(err) => err.into_response(),
        };
        if route.access != Access::Public {
            cors::allow_origin(&self.services.config, req.headers(), &mut response);
        }
        response
    }

    async fn prepare(&self, route: &Route, params: Vec<String>, req: &Request) -> Result<Ctx, ApiError> {
        let caller = if route.access == Access::Public {
            None
        } else {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            Some(self.auth.authenticate(header).await?)
        };
        let body = if route.access == Access::Public {
            RequestBody::Raw(bytes::Bytes::copy_from_slice(req.body().as_ref()))
        } else if matches!(route.method, Method::POST | Method::PUT | Method::PATCH) {
            RequestBody::Json(parse_json_body(req.body())?)
        } else {
            RequestBody::Json(serde_json::Value::Object(Default::default()))
        };
        if let Some(caller) = &caller {
            authorize(caller, route.access)?;
        }
        let mut ctx = Ctx {
            params,
            query: query_map(req),
            body,
            caller,
            headers: req.headers().clone(),
            base_url: String::new(),
        };
        let gateway_domain = match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context.domain_name.as_deref(),
            _ => None,
        };
        ctx.base_url = self.services.config.base_url(gateway_domain);
        Ok(ctx)
    }
}

/// The body of an API route: within the size limit and valid JSON; an empty body is `{}`.
fn parse_json_body(body: &Body) -> Result<serde_json::Value, ApiError> {
    let bytes: &[u8] = body.as_ref();
    if bytes.len() > MAX_API_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {MAX_API_BODY} bytes"),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice::<serde_json::Value>(bytes)
        .map_err(|e| ApiError::invalid_request(format!("the request body is not valid JSON: {e}")))
}

/// One line per request: never a header, body or query value.
fn log_request(method: &Method, route: &str, status: StatusCode, started: Instant, request_id: Option<&str>) {
    tracing::info!(
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = request_id.unwrap_or("-"),
        "request"
    );
}
