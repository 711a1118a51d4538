//! The token gate. With a token configured (HERD_TOKEN), every route but `/healthz`,
//! `/login`, `/logout` and `/assets/…` needs `Authorization: Bearer TOKEN` or the cookie
//! the login form sets, which holds a digest of the token, never the token itself.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::format::url_segment;
use crate::pages;

/// The session cookie's name.
pub const COOKIE: &str = "herd_dashboard";
/// Longest `next` URL the login form returns to.
const MAX_NEXT: usize = 2048;

/// What a request must present, if anything.
#[derive(Debug, Clone)]
pub struct Gate {
    /// sha256("herd-dashboard:" + token); `None` when no token is configured.
    expected: Option<[u8; 32]>,
}

fn digest(token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"herd-dashboard:");
    h.update(token.as_bytes());
    h.finalize().into()
}

impl Gate {
    /// A gate for `token`; a missing or blank token leaves every route open.
    pub fn new(token: Option<&str>) -> Self {
        Gate {
            expected: token.filter(|t| !t.trim().is_empty()).map(digest),
        }
    }

    pub fn enabled(&self) -> bool {
        self.expected.is_some()
    }

    /// The cookie value a correct login sets (hex digest of the token).
    fn cookie_value(&self) -> Option<String> {
        self.expected.map(hex::encode)
    }

    fn matches(&self, candidate: &[u8; 32]) -> bool {
        self.expected
            .is_some_and(|e| bool::from(e.as_slice().ct_eq(candidate.as_slice())))
    }

    /// Whether `token` is the configured token (compared as digests, in constant time).
    pub fn accepts_token(&self, token: &str) -> bool {
        self.matches(&digest(token))
    }

    fn accepts_cookie(&self, value: &str) -> bool {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(value.trim(), &mut bytes).is_ok() && self.matches(&bytes)
    }

    /// Whether the request's headers carry the token or the session cookie.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.enabled() {
            return true;
        }
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix("Bearer "))
            .any(|t| self.accepts_token(t.trim()));
        bearer
            || cookies(headers)
                .filter(|(k, _)| *k == COOKIE)
                .any(|(_, v)| self.accepts_cookie(v))
    }
}

/// Every `name=value` of the request's `Cookie` headers.
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
}

/// Paths open without the token.
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/login" | "/logout") || path.starts_with("/assets/")
}

/// The middleware: lets open paths and authenticated requests through; sends pages to the
/// login form and answers API calls with 401 JSON.
pub async fn require_token(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    if is_open(req.uri().path()) || gate.allows(req.headers()) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "this dashboard needs a token: send `Authorization: Bearer TOKEN` (HERD_TOKEN)"
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let next_url = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    Redirect::to(&format!(
        "/login?next={}",
        url_segment(safe_next(&next_url))
    ))
    .into_response()
}

/// `next` when it is a same-site path (`/…`, not `//…`, no backslash or control
/// character, not the login page itself); `/` otherwise.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= MAX_NEXT
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next != "/login"
        && !next.starts_with("/login?");
    if ok { next } else { "/" }
}

#[derive(Debug, Deserialize)]
pub struct NextParam {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// `GET /login`: the form.
pub async fn login_form(State(gate): State<Arc<Gate>>, Query(q): Query<NextParam>) -> Response {
    if !gate.enabled() {
        return Redirect::to(safe_next(&q.next)).into_response();
    }
    pages::html(pages::login::page(safe_next(&q.next), None)).into_response()
}

/// `POST /login`: sets the session cookie and returns to `next`, or shows the form again.
pub async fn login(State(gate): State<Arc<Gate>>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(&form.next);
    let Some(value) = gate.cookie_value() else {
        return Redirect::to(next).into_response();
    };
    if !gate.accepts_token(form.token.trim()) {
        tracing::info!("dashboard login refused: wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            pages::html(pages::login::page(
                next,
                Some("That token is not this dashboard's."),
            )),
        )
            .into_response();
    }
    let cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /logout`: clears the session cookie.
pub async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("herd_dashboard=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_followed() {
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/login",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        for good in ["/", "/runs/a/tasks?q=x&page=2", "/compare?base=a"] {
            assert_eq!(safe_next(good), good);
        }
    }

    #[test]
    fn the_cookie_holds_a_digest_and_both_credentials_work() {
        let gate = Gate::new(Some("s3cret"));
        let value = gate.cookie_value().expect("enabled");
        assert!(!value.contains("s3cret"));
        assert_eq!(value.len(), 64);
        let mut h = HeaderMap::new();
        assert!(!gate.allows(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={value}")).expect("v"),
        );
        assert!(gate.allows(&h));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(gate.allows(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert!(!gate.allows(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("herd_dashboard=s3cret"),
        );
        assert!(!gate.allows(&h), "the raw token is not a cookie");
        assert!(Gate::new(Some("  ")).allows(&HeaderMap::new()));
        assert!(Gate::new(None).allows(&HeaderMap::new()));
    }
}
