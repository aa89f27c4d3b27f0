//! A database, an organisation with a coordinator, mentors linked to contacts in a real (simulated)
//! Dataverse over HTTP, and relays wired to it.

use std::sync::Arc;
use std::time::Duration;
use store::prelude::*;

use chrono::{TimeZone, Utc};
use dataverse::ClientConfig;
use dataverse_sim::{SimConfig, Simulator};
use domain::{
    Action, CertificationPeriod, Email, FixedClock, FullName, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone, Reason, Role,
};
use engine::Engine;
use engine::sync::{Integration, ListingSync, Mapping, PassReport, Relay, RelayConfig};
use serde_json::{Value, json};
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser, Org, User};
use testkit::TestBackend;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const VISIBLE: &str = "hlf_showonwebsite";

pub struct World<B: TestBackend> {
    pub db: B::Database,
    pub store: B::Store,
    pub engine: Engine<B::Store>,
    pub org: Org,
    pub coordinator: User,
    pub sim: Simulator,
    pub integration: Arc<Integration>,
    pub config: RelayConfig,
}

/// Fast pacing for tests: short backoff and polling, a lease longer than any push here.
pub fn test_relay_config() -> RelayConfig {
    RelayConfig {
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        retry_budget: Duration::from_secs(3600),
        credential_check_interval: Duration::from_millis(300),
    }
}

pub async fn world<B: TestBackend>() -> World<B> {
    world_with(test_relay_config(), |_| {}).await
}

pub async fn world_with<B: TestBackend>(
    config: RelayConfig,
    client: impl FnOnce(&mut ClientConfig),
) -> World<B> {
    // `RUST_LOG=debug cargo test …` shows what the relay did.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let db = B::create().await;
    let store = B::open(&db, 10).await;
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "HLF".into(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap();
    let coordinator = store
        .create_user(NewUser {
            org_id: org.id,
            email: Email::parse("koordinator@hlf.no").unwrap(),
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let integration = Arc::new(integration_for(&sim, &org, "sim-secret", client));
    let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0).unwrap());
    let engine = Engine::new(store.clone(), Arc::new(clock)).with_listing_sync(ListingSync::new(
        vec![(*integration).clone()],
        config.clone(),
    ));
    World {
        db,
        store,
        engine,
        org,
        coordinator,
        sim,
        integration,
        config,
    }
}

pub fn integration_for(
    sim: &Simulator,
    org: &Org,
    secret: &str,
    adjust: impl FnOnce(&mut ClientConfig),
) -> Integration {
    let mut config = ClientConfig::new(
        sim.base_url(),
        sim.token_url(),
        "sim-client",
        secret.to_owned().into(),
        sim.scope(),
    );
    config.request_timeout = Duration::from_secs(5);
    adjust(&mut config);
    Integration {
        org: org.id,
        client: dataverse::Client::new(config).unwrap(),
        mapping: Mapping {
            alternate_key: Some("hlf_memberno".to_owned()),
            ..Mapping::new(VISIBLE)
        },
    }
}

impl<B: TestBackend> World<B> {
    /// `n` active mentors, each linked by contact id to a contact that exists (hidden) in the sim.
    pub async fn linked_mentors(&self, n: usize) -> Vec<(MentorId, Uuid)> {
        let mut mentors = Vec::new();
        let mut links = Vec::new();
        for i in 0..n {
            let contact = Uuid::new_v4();
            self.sim.insert_contact(
                contact,
                json!({"contactid": contact.to_string(), VISIBLE: false,
                       "hlf_memberno": format!("M-{i}")})
                .as_object()
                .cloned()
                .unwrap(),
            );
            let id = MentorId::new();
            links.push((id, contact));
            mentors.push(NewMentor {
                id,
                full_name: FullName::parse(&format!("Mentor {i:04}")).unwrap(),
                email: Email::parse(&format!("m{i}-{}@hlf.no", Uuid::new_v4().simple())).unwrap(),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: Some(contact),
                dynamics_key: None,
                status: MentorStatus::Active,
                certification: Some(NewCertification::new(
                    CertificationPeriod::new(
                        "2026-01-01".parse().unwrap(),
                        "2027-12-31".parse().unwrap(),
                    )
                    .unwrap(),
                )),
            });
        }
        self.store
            .create_mentors(
                self.org.id,
                Actor::System,
                mentors,
                self.engine.clock().now(),
            )
            .await
            .unwrap();
        links
    }

    pub fn relay(&self) -> Relay<B::Store> {
        Relay::new(
            self.engine.clone(),
            self.integration.clone(),
            self.config.clone(),
            Uuid::new_v4(),
        )
    }

    /// Passes until nothing is due; the sum of what they did.
    pub async fn drain(&self) -> PassReport {
        let relay = self.relay();
        let mut total = PassReport::default();
        loop {
            let pass = relay.pass().await.unwrap();
            if pass.claimed == 0 {
                return total;
            }
            total.absorb(pass);
        }
    }

    /// A relay running in the background until the returned token is cancelled.
    pub fn spawn_relay(&self) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(self.relay().run(cancel.clone()));
        (cancel, task)
    }

    pub async fn pause(&self, mentor: MentorId) {
        self.engine
            .request(
                &self.coordinator,
                mentor,
                Action::Pause {
                    reason: Reason::parse("ferie").unwrap(),
                    resume_on: None,
                },
            )
            .await
            .unwrap();
    }

    pub async fn resume(&self, mentor: MentorId) {
        self.engine
            .request(&self.coordinator, mentor, Action::Resume)
            .await
            .unwrap();
    }

    pub fn visible(&self, contact: Uuid) -> Value {
        self.sim.contact(contact).unwrap()[VISIBLE].clone()
    }

    /// Wait until every contact of `links` is listed on the website, at most `seconds`.
    pub async fn all_listed(&self, links: &[(MentorId, Uuid)], seconds: u64) {
        self.eventually(seconds, "every mentor listed", || {
            links
                .iter()
                .all(|(_, contact)| self.visible(*contact) == serde_json::json!(true))
        })
        .await;
    }

    /// Wait until `check` holds, at most `seconds`.
    pub async fn eventually(&self, seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while !check() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {seconds} s waiting for: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The one integer a (portable) query returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        B::scalar(&self.db, sql).await
    }

    /// Run a (portable) statement; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        B::execute(&self.db, sql).await
    }

    pub async fn mentor_sync_state(&self, mentor: MentorId) -> &'static str {
        self.engine
            .mentor(&self.coordinator, mentor)
            .await
            .unwrap()
            .sync_state
    }
}
