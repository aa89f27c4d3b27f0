//! The served application: an organisation whose integration is the Dataverse simulator (over
//! HTTP), relays pushing to it, a dozen mentors in every state, a run in the log, an open alert,
//! and a coordinator and an admin with passwords.

use std::sync::Arc;
use std::time::{Duration, Instant};
use store::prelude::*;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Days, NaiveDate};
use dataverse::ClientConfig;
use dataverse_sim::{SimConfig, Simulator};
use domain::{
    Action, CertificationPeriod, Clock, Email, FullName, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Reason, Role, SystemClock, business_date,
};
use engine::Engine;
use engine::sync::{Integration, ListingSync, Mapping, Relay, RelayConfig};
use secrecy::SecretString;
use serde_json::json;
use store::{
    Actor, NewAlert, NewCertification, NewMentor, NewOrg, NewUser, Org, Severity, SyncPriority,
    SyncSelection, User,
};
use testkit::TestBackend;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use web::TokenKeys;

pub const PASSWORD: &str = "a long dashboard password";
const VISIBLE: &str = "hlf_showonwebsite";

/// Name, days from today to the certification's last day, status, linked to an existing contact.
const MENTORS: &[(&str, i64, MentorStatus, bool)] = &[
    ("Anne Berg", 200, MentorStatus::Active, true),
    ("Bjørn Dahl", 5, MentorStatus::Active, true),
    ("Camilla Eide", 12, MentorStatus::Active, true),
    ("David Fjeld", 25, MentorStatus::Active, true),
    ("Eva Gran", 40, MentorStatus::Active, true),
    ("Frode Haug", 90, MentorStatus::Active, true),
    ("Guro Iversen", 400, MentorStatus::Active, true),
    ("Hans Jensen", -3, MentorStatus::CertificationExpired, true),
    ("Ingrid Krogh", 20, MentorStatus::Active, true),
    // Linked to a contact the simulator does not have: its pushes die (404).
    ("Jon Lie", 300, MentorStatus::Active, false),
    ("Kari Nordmann", 18, MentorStatus::Active, true),
    ("Lars Moe", 150, MentorStatus::Inactive, true),
];

pub struct World<B: TestBackend> {
    pub address: String,
    pub store: B::Store,
    pub org: Org,
    pub coordinator: User,
    pub today: NaiveDate,
    pub sim: Simulator,
    /// Name, id, contact.
    pub mentors: Vec<(String, MentorId, Uuid)>,
    pub alert: Uuid,
    cancel: CancellationToken,
    _db: B::Database,
}

fn hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(
            password.as_bytes(),
            &SaltString::from_b64("YnJvd3NlcnRlc3RzYWx0").unwrap(),
        )
        .unwrap()
        .to_string()
}

impl<B: TestBackend> World<B> {
    pub async fn start() -> World<B> {
        let db = B::create().await;
        let store = B::open(&db, 10).await;
        let org = store
            .create_org(NewOrg {
                slug: OrgSlug::parse("hlf").unwrap(),
                name: "HLF Likepersoner".into(),
                timezone: OrgTimeZone::default(),
            })
            .await
            .unwrap();
        let user = |email: &str, role| NewUser {
            org_id: org.id,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: None,
            auth_subject: None,
            password_hash: Some(hash(PASSWORD)),
            locale: None,
        };
        let coordinator = store
            .create_user(user("koordinator@hlf.no", Role::Coordinator))
            .await
            .unwrap();
        store
            .create_user(user("admin@hlf.no", Role::Admin))
            .await
            .unwrap();

        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let mut client = ClientConfig::new(
            sim.base_url(),
            sim.token_url(),
            "sim-client",
            SecretString::from("sim-secret".to_owned()),
            sim.scope(),
        );
        client.request_timeout = Duration::from_secs(5);
        let integration = Integration {
            org: org.id,
            client: dataverse::Client::new(client).unwrap(),
            mapping: Mapping::new(VISIBLE),
        };
        let config = RelayConfig {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            retry_budget: Duration::from_secs(3600),
            credential_check_interval: Duration::from_secs(60),
        };
        let engine = Engine::new(store.clone(), Arc::new(SystemClock))
            .with_listing_sync(ListingSync::new(vec![integration.clone()], config.clone()));
        let today = business_date(SystemClock.now(), org.timezone);

        let mut mentors = Vec::new();
        let mut new = Vec::new();
        for (name, days, status, exists) in MENTORS {
            let contact = Uuid::new_v4();
            if *exists {
                sim.insert_contact(
                    contact,
                    json!({"contactid": contact.to_string(), VISIBLE: false})
                        .as_object()
                        .cloned()
                        .unwrap(),
                );
            }
            let expires_on = today
                .checked_add_signed(chrono::Duration::days(*days))
                .unwrap();
            let id = MentorId::new();
            mentors.push(((*name).to_owned(), id, contact));
            new.push(NewMentor {
                id,
                full_name: FullName::parse(name).unwrap(),
                email: Email::parse(&format!(
                    "{}@hlf.no",
                    name.to_lowercase().replace(' ', ".").replace('ø', "o")
                ))
                .unwrap(),
                phone: Some(domain::Phone::parse("+47 22 33 44 55").unwrap()),
                listed_publicly: true,
                dynamics_contact_id: Some(contact),
                dynamics_key: None,
                status: *status,
                certification: Some(NewCertification::new(
                    CertificationPeriod::new(
                        expires_on.checked_sub_days(Days::new(730)).unwrap(),
                        expires_on,
                    )
                    .unwrap(),
                )),
            });
        }
        store
            .create_mentors(org.id, Actor::System, new, SystemClock.now())
            .await
            .unwrap();
        // Ingrid is on a break.
        let ingrid = mentors.iter().find(|m| m.0 == "Ingrid Krogh").unwrap().1;
        engine
            .request(
                &coordinator,
                ingrid,
                Action::Pause {
                    reason: Reason::parse("Sykmeldt").unwrap(),
                    resume_on: None,
                },
            )
            .await
            .unwrap();

        // Relays push everything to the simulator; one credential check; the nightly runs.
        let cancel = CancellationToken::new();
        let shared = Arc::new(integration);
        for _ in 0..2 {
            let relay = Relay::new(
                engine.clone(),
                shared.clone(),
                config.clone(),
                Uuid::new_v4(),
            );
            tokio::spawn(relay.run(cancel.clone()));
        }
        store
            .queue_sync(org.id, SyncSelection::AllLinked, SyncPriority::Normal)
            .await
            .unwrap();
        engine.check_credentials(&shared).await.unwrap().unwrap();
        let world_store = store.clone();
        wait_until("every existing contact is pushed", || {
            let store = world_store.clone();
            let org = org.id;
            async move {
                let status = store
                    .sync_status(org, Duration::from_secs(3600))
                    .await
                    .unwrap();
                // Jon Lie's rows are dead (his contact does not exist); everyone else is pushed.
                status.pending == 0 && status.dead > 0
            }
        })
        .await;
        engine.run_expiry(&org, today).await.unwrap();
        engine.run_listing_sync(&org).await.unwrap();

        let alert = store
            .open_alert(NewAlert {
                org: Some(org.id),
                kind: "sync_auth".into(),
                severity: Severity::Critical,
                dedupe_key: format!("browser-test:{}", org.id),
                summary: "Dynamics refused the integration's credentials".into(),
                at: SystemClock.now(),
            })
            .await
            .unwrap()
            .alert
            .id;

        let keys = TokenKeys::from_secret(&SecretString::from(
            "browser-test-secret-browser-test-secret".to_owned(),
        ))
        .unwrap();
        let app = web::app(engine.with_batched_writes(64, 2), keys);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let stop = cancel.clone();
        tokio::spawn(web::serve(
            listener,
            app,
            async move { stop.cancelled().await },
        ));
        World {
            address,
            store,
            org,
            coordinator,
            today,
            sim,
            mentors,
            alert,
            cancel,
            _db: db,
        }
    }

    pub fn mentor(&self, name: &str) -> MentorId {
        self.mentors.iter().find(|m| m.0 == name).unwrap().1
    }

    /// The mentors whose certification's last day is within 30 days from today, by name.
    pub fn expiring_within_30(&self) -> Vec<String> {
        let mut names: Vec<String> = MENTORS
            .iter()
            .filter(|(_, days, _, _)| (0..=30).contains(days))
            .map(|(name, ..)| (*name).to_owned())
            .collect();
        names.sort();
        names
    }

    /// A return date a few weeks ahead, as a date field holds it.
    pub fn return_date(&self) -> String {
        (self.today + chrono::Duration::days(21)).to_string()
    }

    pub fn visible_in_simulator(&self, name: &str) -> Option<bool> {
        let contact = self.mentors.iter().find(|m| m.0 == name)?.2;
        self.sim.contact(contact)?.get(VISIBLE)?.as_bool()
    }

    pub async fn alert_acknowledged(&self) -> bool {
        self.store
            .alerts(self.org.id, false, 50, None)
            .await
            .unwrap()
            .items
            .iter()
            .any(|a| a.id == self.alert && a.acknowledged_by == Some(self.coordinator.id))
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        self.sim.shutdown().await;
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
