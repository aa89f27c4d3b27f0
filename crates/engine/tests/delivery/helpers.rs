use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::prelude::*;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::{
    CertificationPeriod, Email, FixedClock, FullName, Locale, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Role,
};
use engine::Engine;
use engine::delivery::{EmailSender, Mailer, MailerConfig, SenderConfig};
use engine::expiry::ExpiryConfig;
use serde_json::Value;
use smtp_sink::{ReceivedMessage, SmtpSink};
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser, Org, OrgSettings};
use testkit::TestBackend;

pub const RUN_DAY: &str = "2026-07-10";

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Noon in Oslo on `day`.
pub fn noon(day: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date(day).and_hms_opt(10, 0, 0).unwrap())
}

/// An organisation with email on and two coordinators, and a mail server.
pub struct World<B: TestBackend> {
    pub store: B::Store,
    pub clock: FixedClock,
    pub engine: Engine<B::Store>,
    pub org: Org,
    pub sink: SmtpSink,
    /// Keeps the database until the test ends.
    pub db: B::Database,
}

pub async fn world<B: TestBackend>() -> World<B> {
    let db = B::create().await;
    let store = B::open(&db, 8).await;
    let clock = FixedClock::new(noon(RUN_DAY));
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "HLF".into(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap();
    store
        .update_org_settings(
            org.id,
            OrgSettings {
                email_enabled: true,
                locale: Locale::Nb,
                ..OrgSettings::default()
            },
        )
        .await
        .unwrap();
    for email in ["c1@hlf.no", "c2@hlf.no"] {
        store
            .create_user(NewUser {
                org_id: org.id,
                email: Email::parse(email).unwrap(),
                role: Role::Coordinator,
                mentor_id: None,
                auth_subject: None,
                password_hash: None,
                locale: None,
            })
            .await
            .unwrap();
    }
    let engine =
        Engine::new(store.clone(), Arc::new(clock.clone())).with_expiry_config(ExpiryConfig {
            instance: "test".into(),
            ..ExpiryConfig::default()
        });
    World {
        store,
        clock,
        engine,
        org,
        sink: SmtpSink::start().expect("start the SMTP server"),
        db,
    }
}

/// Retries come back at once, so tests see them without waiting.
pub fn quick_retries() -> SenderConfig {
    SenderConfig {
        batch_size: 50,
        lease: Duration::from_secs(60),
        poll: Duration::from_millis(20),
        backoff_initial: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        retry_budget: Duration::from_secs(3600),
    }
}

impl<B: TestBackend> World<B> {
    pub fn set_today(&self, day: &str) {
        self.clock.set(noon(day));
    }

    pub fn sender(&self, config: SenderConfig) -> EmailSender<B::Store> {
        let mailer = Mailer::new(MailerConfig {
            url: self.sink.url(),
            password: None,
            from: "HLF Likeperson <likeperson@hlf.no>".into(),
            pool_size: 4,
            max_per_second: 0,
            timeout: Duration::from_secs(5),
        })
        .expect("a mailer for the test server");
        EmailSender::new(self.engine.clone(), mailer, config)
    }

    /// A mentor whose certification ends on `expires_on`, with the address `email`.
    pub async fn mentor(&self, name: &str, email: &str, expires_on: &str) -> MentorId {
        let id = MentorId::new();
        self.store
            .create_mentors(
                self.org.id,
                Actor::System,
                vec![NewMentor {
                    id,
                    full_name: FullName::parse(name).unwrap(),
                    email: Email::parse(email).unwrap(),
                    phone: None,
                    listed_publicly: true,
                    dynamics_contact_id: None,
                    dynamics_key: None,
                    status: MentorStatus::Active,
                    certification: Some(NewCertification::new(
                        CertificationPeriod::new(date("2024-01-01"), date(expires_on)).unwrap(),
                    )),
                }],
                noon(RUN_DAY),
            )
            .await
            .unwrap();
        id
    }

    pub async fn run_expiry(&self) {
        let today = domain::business_date(domain::Clock::now(&self.clock), self.org.timezone);
        self.engine
            .run_expiry(&self.org, today)
            .await
            .expect("the run succeeds");
    }

    /// Passes until nothing is due.
    pub async fn drain(&self, sender: &EmailSender<B::Store>) {
        for _ in 0..100 {
            if sender.pass().await.expect("a pass").claimed == 0 {
                return;
            }
        }
        panic!("the outbox did not drain in 100 passes");
    }

    /// Passes until `count` messages arrived, or panics after `timeout`.
    pub async fn deliver(
        &self,
        sender: &EmailSender<B::Store>,
        count: usize,
        timeout: Duration,
    ) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.sink.messages().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} messages arrived: {:#?}",
                self.sink.messages().len(),
                self.sink
                    .messages()
                    .iter()
                    .map(|m| m.summary())
                    .collect::<Vec<_>>()
            );
            if sender.pass().await.expect("a pass").claimed == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.sink.messages()
    }
}

/// The messages to `address`.
pub fn to<'a>(messages: &'a [ReceivedMessage], address: &str) -> Vec<&'a ReceivedMessage> {
    messages
        .iter()
        .filter(|m| m.recipients.iter().any(|r| r == address))
        .collect()
}

/// An HTTP server on 127.0.0.1 that keeps every JSON body posted to it, answering 500 to the first
/// `failures` posts.
pub struct WebhookReceiver {
    pub url: reqwest::Url,
    posts: Arc<Mutex<Vec<Value>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start(failures: usize) -> WebhookReceiver {
        let posts: Arc<Mutex<Vec<Value>>> = Arc::default();
        let failures_left = Arc::new(Mutex::new(failures));
        let kept = posts.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let kept = kept.clone();
                let failures_left = failures_left.clone();
                async move {
                    let mut left = failures_left.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    kept.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        WebhookReceiver {
            url: format!("http://{address}/hook").parse().unwrap(),
            posts,
            _server: server,
        }
    }

    pub fn posts(&self) -> Vec<Value> {
        self.posts.lock().unwrap().clone()
    }
}
