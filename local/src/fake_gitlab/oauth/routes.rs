//! The fake OAuth provider's endpoints: authorize, token and revoke.

use crate::fake_gitlab::oauth::{EXPIRES_IN, Grant, random_token};
use crate::fake_gitlab::state::{FakeState, FakeToken};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).expect("registered redirect URIs are URLs");
    for (k, v) in pairs {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

pub(crate) async fn authorize(
    State(state): State<Arc<FakeState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let oauth = &state.oauth;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (client_id, redirect_uri, request_state) = (get("client_id"), get("redirect_uri"), get("state"));
    // GitLab shows its own error page, not a redirect, for an unknown client or redirect URI.
    let registered = oauth.apps.lock().unwrap().get(&client_id).map(|(_, uri)| uri.clone());
    if registered.as_deref() != Some(redirect_uri.as_str()) {
        return (StatusCode::BAD_REQUEST, "The redirect URI included is not valid.").into_response();
    }
    if oauth.deny_next.swap(false, Ordering::SeqCst) {
        return redirect(with_query(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The resource owner or authorization server denied the request.",
                ),
                ("state", &request_state),
            ],
        ));
    }
    if get("response_type") != "code" || get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return redirect(with_query(
            &redirect_uri,
            &[
                ("error", "invalid_request"),
                ("error_description", "PKCE with S256 is required."),
                ("state", &request_state),
            ],
        ));
    }
    let code = random_token();
    oauth.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
        },
    );
    redirect(with_query(&redirect_uri, &[("code", &code), ("state", &request_state)]))
}

/// Issues a token pair for the fixture user, registering the access token with the API.
fn issue(state: &FakeState, client_id: &str) -> Response {
    let access = random_token();
    let refresh = random_token();
    state.add_token(&access, FakeToken::live(&["api"]));
    state.oauth.access_tokens.lock().unwrap().push(access.clone());
    state
        .oauth
        .refresh_tokens
        .lock()
        .unwrap()
        .insert(refresh.clone(), client_id.to_string());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": EXPIRES_IN,
        "refresh_token": refresh,
        "scope": "api",
        "created_at": 1_795_651_200,
    }))
    .into_response()
}

pub(crate) async fn token(State(state): State<Arc<FakeState>>, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(down) = crate::fake_gitlab::access::gate_only(&state).await {
        return down;
    }
    let oauth = &state.oauth;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    if !oauth.client_ok(&client_id, &get("client_secret")) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    }
    let invalid_grant = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
    };
    match get("grant_type").as_str() {
        "authorization_code" => {
            // Codes are single use: taken out whether or not the rest checks out.
            let Some(grant) = oauth.codes.lock().unwrap().remove(&get("code")) else {
                return invalid_grant();
            };
            let verifier_hash = BASE64URL.encode(Sha256::digest(get("code_verifier").as_bytes()));
            if grant.client_id != client_id
                || grant.redirect_uri != get("redirect_uri")
                || grant.challenge != verifier_hash
            {
                return invalid_grant();
            }
            oauth.exchanges.fetch_add(1, Ordering::SeqCst);
            issue(&state, &client_id)
        }
        "refresh_token" => {
            // The old refresh token dies the moment a new one is issued.
            let owner = oauth.refresh_tokens.lock().unwrap().remove(&get("refresh_token"));
            if owner.as_deref() != Some(client_id.as_str()) {
                return invalid_grant();
            }
            oauth.refreshes.fetch_add(1, Ordering::SeqCst);
            issue(&state, &client_id)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ),
    }
}

pub(crate) async fn revoke(State(state): State<Arc<FakeState>>, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(down) = crate::fake_gitlab::access::gate_only(&state).await {
        return down;
    }
    let oauth = &state.oauth;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if !oauth.client_ok(&get("client_id"), &get("client_secret")) {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        );
    }
    let token = get("token");
    let was_refresh = oauth.refresh_tokens.lock().unwrap().remove(&token).is_some();
    let was_access = state.revoke_token(&token);
    if was_refresh || was_access {
        oauth.revocations.fetch_add(1, Ordering::SeqCst);
    }
    // Doorkeeper answers 200 {} even for unknown tokens (RFC 7009).
    Json(json!({})).into_response()
}
