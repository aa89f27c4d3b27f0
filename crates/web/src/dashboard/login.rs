//! Logging in and out. A password is checked against the user's argon2id hash (as `mentor-status
//! users add --password-stdin` stored it); failures are counted in the store, per account and per
//! client address, and too many within the window answer 429 before any password is checked.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use askama::Template;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Email;
use serde::Deserialize;
use store::{LoginFailure, NewSession, Store, User};

use super::session::{
    Checked, Config, CsrfField, LOGIN_CSRF_COOKIE, SESSION_COOKIE, client_address, config_of,
    cookie, random_token, same, secure, set_cookie, token_hash,
};
use super::views::{Chrome, Viewer, html};
use super::words::{Words, locale_of_request, words};
use super::{Dash, DashboardConfig};

/// Failed logins are counted over this window.
pub(crate) const FAILURE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Failures of one account within the window before further attempts are refused.
pub(crate) const MAX_ACCOUNT_FAILURES: u64 = 5;
/// Failures from one client address within the window (across accounts) before it is refused.
/// Higher than per account: several people may share an office's address.
pub(crate) const MAX_ADDRESS_FAILURES: u64 = 20;
/// How often expired sessions and old failures are removed (on a successful login).
const HOUSEKEEPING_EVERY: chrono::Duration = chrono::Duration::minutes(10);
/// How long failures are kept (far longer than the window, for the operator's eyes).
const FAILURES_KEPT: chrono::Duration = chrono::Duration::days(1);
/// Longest email or password read from the form.
const MAX_FIELD_CHARS: usize = 1024;

/// A hash to check unknown accounts' passwords against, so an answer takes as long whether the
/// account exists or not.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::from_b64("bWVudG9yLXN0YXR1cy1kdW1teQ").expect("a valid salt");
    Argon2::default()
        .hash_password(b"not a password anyone has", &salt)
        .expect("hashing with default parameters")
        .to_string()
});

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
pub(super) async fn home<S: Store>(State(dash): State<Dash<S>>, request: Request) -> Response {
    let config = config_of(&request);
    if let Some(token) = cookie(request.headers(), SESSION_COOKIE)
        && let Ok(Some(_)) = dash
            .app
            .engine
            .store()
            .session(
                &token_hash(token),
                dash.app.engine.clock().now(),
                config.idle_timeout,
            )
            .await
    {
        return Redirect::to("/mentors").into_response();
    }
    Redirect::to("/login").into_response()
}

/// `GET /login`.
pub(super) async fn form<S: Store>(
    State(dash): State<Dash<S>>,
    Query(query): Query<LoginQuery>,
    request: Request,
) -> Response {
    let config = config_of(&request);
    let headers = request.headers();
    // Already signed in: nothing to do here.
    if let Some(token) = cookie(headers, SESSION_COOKIE)
        && let Ok(Some(_)) = dash
            .app
            .engine
            .store()
            .session(
                &token_hash(token),
                dash.app.engine.clock().now(),
                config.idle_timeout,
            )
            .await
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
pub(super) async fn submit<S: Store>(State(dash): State<Dash<S>>, request: Request) -> Response {
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
    let engine = &dash.app.engine;
    let store = engine.store();
    // Until this attempt's failure (if it fails) is recorded, no other attempt at this account or
    // from this address counts the failures.
    let _turn = dash.login_locks.turn(&account, &address).await;
    let now = engine.clock().now();

    let failures = match store
        .login_failures_since(&account, &address, now - FAILURE_WINDOW)
        .await
    {
        Ok(failures) => failures,
        Err(e) => return unavailable(t, e, &next, secure),
    };
    if failures.account >= MAX_ACCOUNT_FAILURES || failures.address >= MAX_ADDRESS_FAILURES {
        tracing::warn!(%address, "dashboard: login refused by the rate limit");
        return fail(
            StatusCode::TOO_MANY_REQUESTS,
            t.login_rate_limited,
            form.email,
        );
    }

    let user = match Email::parse(&account) {
        Ok(email) => match store.user_by_email(&email).await {
            Ok(user) => user,
            Err(e) => return unavailable(t, e, &next, secure),
        },
        Err(_) => None,
    };
    let verified = verify(user.as_ref(), form.password).await;
    let Some(user) = user.filter(|_| verified) else {
        if let Err(e) = store
            .record_login_failure(LoginFailure {
                account,
                address,
                at: now,
            })
            .await
        {
            return unavailable(t, e, &next, secure);
        }
        tracing::info!("dashboard: a login failed");
        return fail(StatusCode::UNAUTHORIZED, t.login_failed, form.email);
    };

    let token = random_token();
    let session = NewSession {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + config.absolute_timeout,
    };
    if let Err(e) = store.create_session(session).await {
        return unavailable(t, e, &next, secure);
    }
    housekeeping(&dash, &config).await;
    tracing::info!(user = %user.id, "dashboard: logged in");
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

/// Whether `password` is the user's. Users without a password (API-only logins) and unknown
/// accounts are checked against a dummy hash, so the time taken does not tell them apart.
async fn verify(user: Option<&User>, password: String) -> bool {
    let stored = user.and_then(|u| u.password_hash.clone());
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (DUMMY_HASH.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::error!("dashboard: a stored password hash is not a PHC string");
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    })
    .await
    .unwrap_or(false)
}

/// Every so often, after a login: forget sessions that ended and old failures.
async fn housekeeping<S: Store>(dash: &Dash<S>, config: &DashboardConfig) {
    let now = dash.app.engine.clock().now();
    {
        let mut last = dash.housekeeping.lock().expect("housekeeping poisoned");
        if last.is_some_and(|at| now - at < HOUSEKEEPING_EVERY) {
            return;
        }
        *last = Some(now);
    }
    let store = dash.app.engine.store();
    match store
        .delete_expired_sessions(now, config.idle_timeout)
        .await
    {
        Ok(n) if n > 0 => tracing::info!(sessions = n, "dashboard: removed ended sessions"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "dashboard: cannot remove ended sessions"),
    }
    if let Err(e) = store.prune_login_failures(now - FAILURES_KEPT).await {
        tracing::warn!(error = %e, "dashboard: cannot remove old login failures");
    }
}

fn unavailable(t: &'static Words, e: store::StoreError, next: &str, secure: bool) -> Response {
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
pub(super) async fn logout<S: Store>(
    State(dash): State<Dash<S>>,
    headers: HeaderMap,
    Config(config): Config,
    axum::Extension(viewer): axum::Extension<Viewer>,
    Checked(_): Checked<LogoutForm>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = dash
            .app
            .engine
            .store()
            .delete_session(&token_hash(token))
            .await
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

    #[test]
    fn the_dummy_hash_is_argon2id() {
        assert!(DUMMY_HASH.starts_with("$argon2id$"));
    }

    /// As `mentor-status users add --password-stdin` stores it (crates/cli/src/password.rs:
    /// argon2id with the crate's default parameters and a random salt).
    #[tokio::test]
    async fn passwords_hashed_like_the_cli_does_verify_and_others_do_not() {
        use argon2::password_hash::rand_core::OsRng;
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(b"a long enough password", &salt)
            .unwrap()
            .to_string();
        let user = User {
            id: domain::UserId::new(),
            org_id: domain::OrgId::new(),
            email: Email::parse("kari@hlf.no").unwrap(),
            role: domain::Role::Coordinator,
            mentor_id: None,
            auth_subject: "kari".into(),
            password_hash: Some(hash),
            locale: None,
            created_at: chrono::Utc::now(),
        };
        assert!(verify(Some(&user), "a long enough password".into()).await);
        assert!(!verify(Some(&user), "a long enough passwore".into()).await);
        assert!(!verify(None, "a long enough password".into()).await);
        let garbled = User {
            password_hash: Some("not a PHC string".into()),
            ..user
        };
        assert!(!verify(Some(&garbled), "a long enough password".into()).await);
    }
}
