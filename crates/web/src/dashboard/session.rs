//! Cookie sessions of the dashboard: a random token (256 bits) in an HttpOnly cookie, only its
//! SHA-256 in the store; the signed-in [`Viewer`] of a request; anti-CSRF tokens compared in
//! constant time.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use store::{OrgStore, SessionStore};

use super::views::{Chrome, Viewer, error_page};
use super::words::{locale_of_request, words};
use super::{Dash, DashboardConfig};

/// The session cookie: the token whose hash names the session.
pub(crate) const SESSION_COOKIE: &str = "ms_session";
/// Before a session exists, the login form's anti-CSRF token (double submit).
pub(crate) const LOGIN_CSRF_COOKIE: &str = "ms_login";

/// Equal strings, compared in time that depends only on their lengths.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Whether cookies must be `Secure`: configured so, or the request came over TLS to a proxy that
/// says so.
pub(crate) fn secure(headers: &HeaderMap, config: &DashboardConfig) -> bool {
    config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: i64,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    ))
    .expect("cookie values are URL-safe base64")
}

/// The client's address for login rate limits: the connection's peer, or behind a trusted proxy
/// the last address it appended to `X-Forwarded-For`.
pub(crate) fn client_address(request: &Request, config: &DashboardConfig) -> String {
    if config.trust_forwarded_for
        && let Some(forwarded) = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
    {
        return forwarded.to_owned();
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
}

/// The dashboard configuration of a request, as an extractor.
pub(crate) struct Config(pub DashboardConfig);

impl<S: Send + Sync> FromRequestParts<S> for Config {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Config(
            parts
                .extensions
                .get::<DashboardConfig>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// The dashboard configuration of this request (see [`crate::with_dashboard_config`]).
pub(crate) fn config_of(request: &Request) -> DashboardConfig {
    request
        .extensions()
        .get::<DashboardConfig>()
        .cloned()
        .unwrap_or_default()
}

/// Middleware of every page behind the login: a live session, or back to the login page.
pub(crate) async fn require_session<S: SessionStore + OrgStore>(
    State(dash): State<Dash<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let config = config_of(&request);
    let Some(token) = cookie(request.headers(), SESSION_COOKIE).map(str::to_owned) else {
        return to_login(&request, false);
    };
    let session = match dash.app.engine.session(&token, config.idle_timeout).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            let mut response = to_login(&request, true);
            let secure = secure(request.headers(), &config);
            response.headers_mut().insert(
                SET_COOKIE,
                set_cookie(SESSION_COOKIE, "", "/", "Lax", 0, secure),
            );
            return response;
        }
        Err(e) => return unavailable(&request, e),
    };
    let (org, org_locale) = match dash.orgs.get(&dash.app.engine, session.user.org_id).await {
        Ok(found) => found,
        Err(e) => return unavailable(&request, e),
    };
    let locale = session.user.locale.unwrap_or(org_locale);
    request.extensions_mut().insert(Viewer {
        user: session.user,
        org,
        csrf: session.csrf_token,
        t: words(locale),
    });
    next.run(request).await
}

/// To the login page, coming back to this page (if it was a page to come back to) afterwards.
fn to_login(request: &Request, expired: bool) -> Response {
    let path = request.uri().path();
    let mut target = String::from("/login");
    let mut sep = '?';
    if expired {
        target.push_str("?expired=1");
        sep = '&';
    }
    if request.method() == axum::http::Method::GET && path != "/" {
        let back = request
            .uri()
            .path_and_query()
            .map_or(path, |pq| pq.as_str());
        target.push(sep);
        target.push_str("next=");
        target.push_str(&url_encode(back));
    }
    Redirect::to(&target).into_response()
}

fn unavailable(request: &Request, error: engine::EngineError) -> Response {
    tracing::warn!(error = %error, "dashboard: the store failed");
    let t = locale_of_request(request.headers(), None);
    error_page(
        Chrome::signed_out(words(t), words(t).error_heading.to_owned()),
        StatusCode::SERVICE_UNAVAILABLE,
        words(t).error_unavailable.to_owned(),
    )
}

/// Percent-encoding of everything but unreserved characters, for a query value.
pub(crate) fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A form of a signed-in page: each carries the session's anti-CSRF token.
pub(crate) trait CsrfField {
    fn csrf(&self) -> &str;
}

/// A form body whose anti-CSRF token matched the session's; otherwise the request is refused with
/// 403 and nothing happens.
pub(crate) struct Checked<T>(pub T);

impl<S, T> FromRequest<Dash<S>> for Checked<T>
where
    S: Send + Sync,
    T: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &Dash<S>) -> Result<Self, Self::Rejection> {
        let Some(viewer) = request.extensions().get::<Viewer>().cloned() else {
            return Err(Redirect::to("/login").into_response());
        };
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(|_| viewer.error(StatusCode::BAD_REQUEST, viewer.t.error_bad_request))?;
        if !same(form.csrf(), &viewer.csrf) {
            tracing::warn!(user = %viewer.user.id, "dashboard: a form without the session's CSRF token was refused");
            return Err(viewer.error(StatusCode::FORBIDDEN, viewer.t.form_expired));
        }
        Ok(Checked(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_needs_equal_non_empty_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", ""));
    }

    #[test]
    fn cookies_are_found_by_name_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; ms_session=tok; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("ms_login=x"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, LOGIN_CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_secure_when_asked() {
        let plain = set_cookie(SESSION_COOKIE, "t", "/", "Lax", 60, false);
        assert_eq!(
            plain,
            "ms_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        let tls = set_cookie(SESSION_COOKIE, "t", "/", "Lax", 60, true);
        assert!(tls.to_str().unwrap().ends_with("; Secure"));
        let mut headers = HeaderMap::new();
        assert!(!secure(&headers, &DashboardConfig::default()));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(secure(&headers, &DashboardConfig::default()));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("/mentors?q=a b&x"), "%2Fmentors%3Fq%3Da%20b%26x");
    }
}
