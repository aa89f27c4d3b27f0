//! Logging in and out: the pages and cookies. The engine checks the password and the limit on
//! failed sign-ins ([`engine::sign_in`]); too many failures within the window answer 429 before any
//! password is checked.

use askama::Template;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use engine::EngineError;
use engine::sign_in::{SignIn, random_token};
use serde::Deserialize;
use store::{SessionStore, UserStore};

use super::session::{
    Checked, Config, CsrfField, LOGIN_CSRF_COOKIE, SESSION_COOKIE, client_address, config_of,
    cookie, same, secure, set_cookie,
};
use super::views::{Chrome, Viewer, html};
use super::words::{Words, locale_of_request, words};
use super::{Dash, DashboardConfig};

/// How often expired sessions and old failures are removed (on a successful login).
const HOUSEKEEPING_EVERY: chrono::Duration = chrono::Duration::minutes(10);
/// Longest email or password read from the form.
const MAX_FIELD_CHARS: usize = 1024;

/// A page to go back to after login: a path of this site, nothing else.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/mentors",
    }
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
pub(crate) struct LoginPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub csrf: String,
    pub email: String,
    pub next: String,
}

#[derive(Deserialize, Default)]
pub(super) struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    out: Option<String>,
    lang: Option<String>,
}

/// `/`: the mentors for a signed-in browser, else the login page.
pub(super) async fn home<S: SessionStore>(
    State(dash): State<Dash<S>>,
    request: Request,
) -> Response {
    let config = config_of(&request);
    if let Some(token) = cookie(request.headers(), SESSION_COOKIE)
        && let Ok(Some(_)) = dash.app.engine.session(token, config.idle_timeout).await
    {
        return Redirect::to("/mentors").into_response();
    }
    Redirect::to("/login").into_response()
}

/// `GET /login`.
pub(super) async fn form<S: SessionStore>(
    State(dash): State<Dash<S>>,
    Query(query): Query<LoginQuery>,
    request: Request,
) -> Response {
    let config = config_of(&request);
    let headers = request.headers();
    // Already signed in: nothing to do here.
    if let Some(token) = cookie(headers, SESSION_COOKIE)
        && let Ok(Some(_)) = dash.app.engine.session(token, config.idle_timeout).await
    {
        return Redirect::to(safe_next(query.next.as_deref())).into_response();
    }
    let t = words(locale_of_request(headers, query.lang.as_deref()));
    let notice = if query.out.is_some() {
        Some(t.logged_out.to_owned())
    } else {
        None
    };
    let error = if query.expired.is_some() {
        Some(t.session_expired.to_owned())
    } else {
        None
    };
    login_page(
        t,
        StatusCode::OK,
        notice,
        error,
        String::new(),
        safe_next(query.next.as_deref()),
        secure(headers, &config),
    )
}

/// The login page with a fresh anti-CSRF token in its form and cookie.
fn login_page(
    t: &'static Words,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    email: String,
    next: &str,
    secure: bool,
) -> Response {
    let csrf = random_token();
    let page = LoginPage {
        chrome: Chrome::signed_out(t, t.login_title.to_owned())
            .with_notice(notice)
            .with_error(error),
        t,
        csrf: csrf.clone(),
        email,
        next: next.to_owned(),
    };
    let mut response = html(status, &page);
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, "/login", "Strict", 3600, secure),
    );
    response
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /login`.
pub(super) async fn submit<S: UserStore + SessionStore>(
    State(dash): State<Dash<S>>,
    request: Request,
) -> Response {
    let config = config_of(&request);
    let address = client_address(&request, &config);
    let headers = request.headers().clone();
    let secure = secure(&headers, &config);
    let login_csrf = cookie(&headers, LOGIN_CSRF_COOKIE).map(str::to_owned);
    let form = match Form::<LoginForm>::from_request(request, &dash).await {
        Ok(Form(form)) => form,
        Err(_) => {
            let t = words(locale_of_request(&headers, None));
            return login_page(
                t,
                StatusCode::BAD_REQUEST,
                None,
                Some(t.error_bad_request.to_owned()),
                String::new(),
                "/mentors",
                secure,
            );
        }
    };
    let t = words(locale_of_request(&headers, form.lang.as_deref()));
    let next = safe_next(form.next.as_deref()).to_owned();
    let fail = |status: StatusCode, message: &'static str, email: String| {
        login_page(
            t,
            status,
            None,
            Some(message.to_owned()),
            email,
            &next,
            secure,
        )
    };
    if !login_csrf.is_some_and(|expected| same(&form.csrf, &expected)) {
        return fail(StatusCode::FORBIDDEN, t.form_expired, form.email);
    }
    if form.email.chars().count() > MAX_FIELD_CHARS
        || form.password.chars().count() > MAX_FIELD_CHARS
    {
        return fail(StatusCode::BAD_REQUEST, t.error_bad_request, String::new());
    }
    let account = form.email.trim().to_lowercase();
    // Until this attempt's failure (if it fails) is recorded, no other attempt at this account or
    // from this address counts the failures.
    let _turn = dash.login_locks.turn(&account, &address).await;
    let attempt = dash
        .app
        .engine
        .sign_in(&account, &address, form.password, config.absolute_timeout)
        .await;
    let token = match attempt {
        Ok(SignIn::Granted { token, .. }) => token,
        Ok(SignIn::Refused) => {
            return fail(StatusCode::UNAUTHORIZED, t.login_failed, form.email);
        }
        Ok(SignIn::RateLimited) => {
            return fail(
                StatusCode::TOO_MANY_REQUESTS,
                t.login_rate_limited,
                form.email,
            );
        }
        Err(e) => return unavailable(t, e, &next, secure),
    };
    housekeeping(&dash, &config).await;
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token,
            "/",
            "Lax",
            config.absolute_timeout.num_seconds(),
            secure,
        ),
    );
    headers.append(
        SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", "/login", "Strict", 0, secure),
    );
    response
}

/// Every so often, after a login: forget sessions that ended and old failures.
async fn housekeeping<S: SessionStore>(dash: &Dash<S>, config: &DashboardConfig) {
    let now = dash.app.engine.clock().now();
    {
        let mut last = dash.housekeeping.lock().expect("housekeeping poisoned");
        if last.is_some_and(|at| now - at < HOUSEKEEPING_EVERY) {
            return;
        }
        *last = Some(now);
    }
    match dash
        .app
        .engine
        .forget_ended_sign_ins(config.idle_timeout)
        .await
    {
        Ok((sessions, _)) if sessions > 0 => {
            tracing::info!(sessions, "dashboard: removed ended sessions")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "dashboard: cannot remove ended sessions"),
    }
}

fn unavailable(t: &'static Words, e: EngineError, next: &str, secure: bool) -> Response {
    tracing::warn!(error = %e, "dashboard: the store failed during login");
    login_page(
        t,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        Some(t.error_unavailable.to_owned()),
        String::new(),
        next,
        secure,
    )
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /logout`: the session is deleted, and its cookie.
pub(super) async fn logout<S: SessionStore>(
    State(dash): State<Dash<S>>,
    headers: HeaderMap,
    Config(config): Config,
    axum::Extension(viewer): axum::Extension<Viewer>,
    Checked(_): Checked<LogoutForm>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = dash.app.engine.end_session(token).await
    {
        return viewer.error(StatusCode::SERVICE_UNAVAILABLE, {
            tracing::warn!(error = %e, "dashboard: cannot end a session");
            viewer.t.error_unavailable
        });
    }
    tracing::info!(user = %viewer.user.id, "dashboard: logged out");
    let secure = secure(&headers, &config);
    let mut response =
        Redirect::to(&format!("/login?out=1&lang={}", viewer.locale().as_str())).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", "Lax", 0, secure),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::ACCEPT_LANGUAGE;
    use domain::Locale;

    #[test]
    fn the_login_language_follows_the_query_then_the_browser() {
        let mut headers = HeaderMap::new();
        assert_eq!(locale_of_request(&headers, None), Locale::Nb);
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("en-GB,en;q=0.9"));
        assert_eq!(locale_of_request(&headers, None), Locale::En);
        assert_eq!(locale_of_request(&headers, Some("nb")), Locale::Nb);
        headers.insert(
            ACCEPT_LANGUAGE,
            HeaderValue::from_static("de, nb;q=0.8, en;q=0.5"),
        );
        assert_eq!(locale_of_request(&headers, None), Locale::Nb);
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/mentors/x?y=1")), "/mentors/x?y=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/mentors");
        assert_eq!(safe_next(Some("https://evil.example/")), "/mentors");
        assert_eq!(safe_next(Some("/\\evil")), "/mentors");
        assert_eq!(safe_next(None), "/mentors");
    }
}
