//! A served application on a fresh database (either backend), with an organisation, its
//! coordinator, admin and a mentor's own login (all with passwords), another organisation, and a
//! small browser: cookies kept by hand, redirects not followed, forms posted urlencoded.

use std::collections::HashMap;
use std::sync::Arc;
use store::prelude::*;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{TimeZone, Utc};
use domain::{
    CertificationPeriod, Clock, Email, FixedClock, FullName, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Role,
};
use engine::Engine;
use reqwest::StatusCode;
use secrecy::SecretString;
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser, Org, Store, User};
use testkit::TestBackend;
use web::TokenKeys;

pub const PASSWORD: &str = "correct horse battery staple";

#[allow(dead_code)] // fixtures some tests do not use
pub struct DashApp<B: TestBackend> {
    pub address: String,
    pub store: B::Store,
    pub clock: FixedClock,
    pub org: Org,
    pub coordinator: User,
    pub admin: User,
    /// The login of `own_mentor`.
    pub mentor: User,
    pub own_mentor: MentorId,
    /// Another mentor of `org`.
    pub colleague: MentorId,
    pub other_org: Org,
    /// A mentor of `other_org`.
    pub foreign_mentor: MentorId,
    pub db: B::Database,
}

/// An argon2id hash as `users add --password-stdin` makes it, with lighter parameters so debug
/// builds verify it quickly (the parameters travel inside the PHC string).
pub fn hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
    argon2
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

pub async fn spawn<B: TestBackend>() -> DashApp<B> {
    spawn_with::<B>(|app| app).await
}

/// As [`spawn`], the router changed by `adjust` (e.g. a dashboard configuration).
pub async fn spawn_with<B: TestBackend>(
    adjust: impl FnOnce(axum::Router) -> axum::Router,
) -> DashApp<B> {
    let db = B::create().await;
    let store = B::open(&db, 10).await;
    let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0).unwrap());
    let org = create_org(&store, "hlf").await;
    let other_org = create_org(&store, "other").await;
    let engine = Engine::new(store.clone(), Arc::new(clock.clone())).with_batched_writes(64, 2);
    let keys = TokenKeys::from_secret(&SecretString::from(
        "test-secret-test-secret-test-secret!".to_owned(),
    ))
    .unwrap();
    let app = adjust(web::app(engine, keys));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(listener, app, std::future::pending()));

    let own_mentor = mentor(
        &store,
        &org,
        "Kari Nordmann",
        "kari@hlf.no",
        "2027-06-15",
        &clock,
    )
    .await;
    let colleague = mentor(
        &store,
        &org,
        "Per Hansen",
        "per@hlf.no",
        "2026-07-01",
        &clock,
    )
    .await;
    let foreign_mentor = mentor(
        &store,
        &other_org,
        "Ola Utenfor",
        "ola@other.no",
        "2027-06-15",
        &clock,
    )
    .await;
    DashApp {
        address,
        coordinator: user(&store, &org, "coord@hlf.no", Role::Coordinator, None).await,
        admin: user(&store, &org, "admin@hlf.no", Role::Admin, None).await,
        mentor: user(&store, &org, "kari@hlf.no", Role::Mentor, Some(own_mentor)).await,
        own_mentor,
        colleague,
        foreign_mentor,
        store,
        clock,
        org,
        other_org,
        db,
    }
}

async fn create_org(store: &impl Store, slug: &str) -> Org {
    store
        .create_org(NewOrg {
            slug: OrgSlug::parse(slug).unwrap(),
            name: slug.to_uppercase(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap()
}

pub async fn mentor(
    store: &impl Store,
    org: &Org,
    name: &str,
    email: &str,
    expires_on: &str,
    clock: &FixedClock,
) -> MentorId {
    store
        .create_mentors(
            org.id,
            Actor::System,
            vec![NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse(name).unwrap(),
                email: Email::parse(email).unwrap(),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: None,
                dynamics_key: None,
                status: MentorStatus::Active,
                certification: Some(NewCertification::new(
                    CertificationPeriod::new(
                        "2025-01-01".parse().unwrap(),
                        expires_on.parse().unwrap(),
                    )
                    .unwrap(),
                )),
            }],
            clock.now(),
        )
        .await
        .unwrap()[0]
}

pub async fn user(
    store: &impl Store,
    org: &Org,
    email: &str,
    role: Role,
    mentor: Option<MentorId>,
) -> User {
    store
        .create_user(NewUser {
            org_id: org.id,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: mentor,
            auth_subject: None,
            password_hash: Some(hash(PASSWORD)),
            locale: None,
        })
        .await
        .unwrap()
}

impl<B: TestBackend> DashApp<B> {
    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    pub async fn status_of(&self, id: MentorId) -> MentorStatus {
        self.store.mentor(self.org.id, id).await.unwrap().status
    }

    pub async fn history_len(&self, id: MentorId) -> usize {
        self.store
            .history(self.org.id, id, 200, None)
            .await
            .unwrap()
            .items
            .len()
    }
}

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf").expect("a csrf field on the page")
    }

    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert_eq!(self.location.as_deref(), Some(to));
    }

    #[track_caller]
    pub fn assert_to_login(&self) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        let location = self.location.as_deref().unwrap_or_default();
        assert!(location.starts_with("/login"), "to {location}");
    }

    /// A private page: never cached, framed or sniffed, and no script or outside resource allowed.
    #[track_caller]
    pub fn assert_private(&self, what: &str) {
        let header = |name: &str| {
            self.headers
                .get(name)
                .unwrap_or_else(|| panic!("{what}: no {name} header"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header("cache-control"), "no-store", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{what}: {csp}");
        }
        assert!(!csp.contains("script-src"), "{what}: no scripts: {csp}");
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

/// The value of the first `<input name="{name}" value="…">`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A browser without JavaScript: keeps cookies, follows nothing by itself.
#[derive(Clone)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    pub headers: Vec<(String, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            headers: Vec::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let mut request = request;
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", cookie);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            location,
            set_cookies,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// The login page, then its form with `email` and `password`.
    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/mentors"),
            ],
        )
        .await
    }

    /// Logged in as `email` (asserting it worked).
    pub async fn logged_in(mut self, email: &str) -> Browser {
        let page = self.login(email, PASSWORD).await;
        page.assert_redirect("/mentors");
        assert!(self.cookies.contains_key("ms_session"));
        self
    }

    /// The anti-CSRF token of the session, from a page that shows forms.
    pub async fn csrf(&mut self) -> String {
        self.get("/mentors").await.csrf()
    }
}

pub fn encode(value: &str) -> String {
    let mut out = String::new();
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
