use std::sync::Arc;
use store::prelude::*;

use chrono::{TimeZone, Utc};
use domain::{
    CertificationPeriod, Clock, Email, FixedClock, FullName, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Role,
};
use engine::Engine;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser, Org, Store, User};
use testkit::TestBackend;
use web::TokenKeys;

pub const SECRET: &str = "test-secret-test-secret-test-secret!";

/// Business date of every test unless it moves the clock: 2026-06-15 in Oslo (12:00 local).
pub const TODAY: &str = "2026-06-15";

pub struct Login {
    pub user: User,
    pub token: String,
}

pub struct TestApp<B: TestBackend> {
    pub address: String,
    pub client: reqwest::Client,
    pub store: B::Store,
    pub keys: TokenKeys,
    pub clock: FixedClock,
    pub org: Org,
    pub coordinator: Login,
    pub admin: Login,
    /// A login linked to `own_mentor`.
    pub mentor: Login,
    pub own_mentor: MentorId,
    pub other_org: Org,
    pub other_coordinator: Login,
    // Declared last: dropped after everything that uses the database.
    pub db: B::Database,
}

pub async fn spawn_app<B: TestBackend>() -> TestApp<B> {
    let db = B::create().await;
    let store = B::open(&db, 10).await;
    let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0).unwrap());
    let keys = TokenKeys::from_secret(&SecretString::from(SECRET.to_owned())).unwrap();

    let org = create_org(&store, "hlf").await;
    let other_org = create_org(&store, "other").await;

    // As `serve` does: changes are group-committed, so the races below also race in batches.
    let engine = Engine::new(store.clone(), Arc::new(clock.clone())).with_batched_writes(64, 2);
    let app = web::app(
        engine,
        TokenKeys::from_secret(&SecretString::from(SECRET.to_owned())).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(listener, app, std::future::pending()));

    let own_mentor = store
        .create_mentors(
            org.id,
            Actor::System,
            vec![NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse("Kari Nordmann").unwrap(),
                email: Email::parse("kari@hlf.no").unwrap(),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: None,
                dynamics_key: None,
                status: MentorStatus::Active,
                certification: Some(NewCertification::new(
                    CertificationPeriod::new(date("2025-06-15"), date("2027-06-15")).unwrap(),
                )),
            }],
            clock.now(),
        )
        .await
        .unwrap()[0];

    TestApp {
        address,
        client: reqwest::Client::new(),
        coordinator: login(&store, &keys, &org, "coord@hlf.no", Role::Coordinator, None).await,
        admin: login(&store, &keys, &org, "admin@hlf.no", Role::Admin, None).await,
        mentor: login(
            &store,
            &keys,
            &org,
            "kari@hlf.no",
            Role::Mentor,
            Some(own_mentor),
        )
        .await,
        other_coordinator: login(
            &store,
            &keys,
            &other_org,
            "coord@other.no",
            Role::Coordinator,
            None,
        )
        .await,
        own_mentor,
        store,
        keys,
        clock,
        org,
        other_org,
        db,
    }
}

pub fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
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

pub async fn login(
    store: &impl Store,
    keys: &TokenKeys,
    org: &Org,
    email: &str,
    role: Role,
    mentor: Option<MentorId>,
) -> Login {
    let user = store
        .create_user(NewUser {
            org_id: org.id,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: mentor,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .unwrap();
    let token = keys.mint(&user.auth_subject, chrono::Duration::hours(1), Utc::now());
    Login { user, token }
}

pub fn id_of(mentor: &Value) -> MentorId {
    mentor["id"].as_str().expect("id").parse().unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts an RFC 9457 problem with this status, and returns it.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "problems are application/problem+json"
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["type"].is_string());
        &self.body
    }

    /// Asserts a 422 naming `field`.
    pub fn invalid_field(&self, field: &str) {
        let body = self.problem(422);
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "expected field {field} in {body}");
    }
}

impl<B: TestBackend> TestApp<B> {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, login: &Login) -> Reply {
        self.call(Method::GET, path, Some(&login.token), None).await
    }

    pub async fn post(&self, path: &str, login: &Login, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&login.token), Some(body))
            .await
    }

    /// Registers a mentor as the coordinator; `expires_on` None means no certification.
    pub async fn create_mentor(&self, name: &str, email: &str, expires_on: Option<&str>) -> Value {
        let mut body = json!({"full_name": name, "email": email});
        if let Some(expires_on) = expires_on {
            body["certification"] = json!({"issued_on": "2025-01-01", "expires_on": expires_on});
        }
        let reply = self.post("/api/v1/mentors", &self.coordinator, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    pub async fn mentor_json(&self, id: MentorId) -> Value {
        let reply = self
            .get(&format!("/api/v1/mentors/{id}"), &self.coordinator)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Counts the rows of `table` about `mentor` (a mentor of `org`) with plain SQL, to see what
    /// really was written; `condition` narrows them further (columns of `table` as `t.`). Portable SQL
    /// cannot compare uuids (SQLite keeps them as 16-byte BLOBs), so the mentor is named by its
    /// organisation's slug and its email.
    pub async fn count(&self, table: &str, mentor: MentorId, condition: Option<&str>) -> i64 {
        let record = self
            .store
            .mentor(self.org.id, mentor)
            .await
            .expect("mentor");
        let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let sql = format!(
            "SELECT count(*) FROM {table} t \
             JOIN mentors m ON m.id = t.mentor_id \
             JOIN organisations o ON o.id = m.org_id \
             WHERE o.slug = {} AND m.email = {}{}",
            literal(&record.org_slug),
            literal(record.email.as_str()),
            condition.map(|c| format!(" AND ({c})")).unwrap_or_default(),
        );
        B::scalar(&self.db, &sql).await
    }

    /// Status history rows of `mentor` (of `org`), read through the store page by page.
    pub async fn history_rows(&self, mentor: MentorId) -> i64 {
        let (mut rows, mut before) = (0, None);
        loop {
            let page = self
                .store
                .history(self.org.id, mentor, 100, before)
                .await
                .expect("history");
            rows += i64::try_from(page.items.len()).unwrap();
            match page.next {
                Some(next) => before = Some(next),
                None => return rows,
            }
        }
    }

    pub async fn outbox_rows(&self, mentor: MentorId) -> i64 {
        self.count("sync_outbox", mentor, None).await
    }
}

impl<B: TestBackend> TestApp<B> {
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }
}
