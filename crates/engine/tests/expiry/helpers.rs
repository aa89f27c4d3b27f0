use std::sync::Arc;
use store::prelude::*;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::{
    CertificationPeriod, Email, FixedClock, FullName, MentorId, MentorStatus, OrgSlug, OrgTimeZone,
    Role,
};
use engine::Engine;
use engine::expiry::ExpiryConfig;
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser, Notification, Org, Store, User};
use testkit::TestBackend;

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Noon in Oslo on `day` (10:00 UTC in summer, 11:00 in winter is still the same date).
pub fn noon(day: &str) -> DateTime<Utc> {
    let d = date(day);
    Utc.from_utc_datetime(&d.and_hms_opt(10, 0, 0).unwrap())
}

pub struct World<B: TestBackend> {
    pub store: B::Store,
    pub clock: FixedClock,
    pub engine: Engine<B::Store>,
    pub org: Org,
    pub coordinators: Vec<User>,
    pub db: B::Database,
}

pub async fn world<B: TestBackend>(today: &str) -> World<B> {
    let db = B::create().await;
    let store = B::open(&db, 10).await;
    let clock = FixedClock::new(noon(today));
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "HLF".into(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap();
    let mut coordinators = Vec::new();
    for email in ["c1@hlf.no", "c2@hlf.no"] {
        coordinators.push(
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
                .unwrap(),
        );
    }
    let engine = engine_on(store.clone(), &clock);
    World {
        store,
        clock,
        engine,
        org,
        coordinators,
        db,
    }
}

/// Another engine with its own store (connection pool) on the same database, like another instance.
pub async fn instance<B: TestBackend>(world: &World<B>, name: &str) -> Engine<B::Store> {
    let store = B::open(&world.db, 4).await;
    let config = ExpiryConfig {
        instance: name.to_owned(),
        batch_size: 7,
        ..ExpiryConfig::default()
    };
    Engine::new(store, Arc::new(world.clock.clone())).with_expiry_config(config)
}

pub fn engine_on<S: Store>(store: S, clock: &FixedClock) -> Engine<S> {
    // A small batch size makes every test cross batch boundaries.
    let config = ExpiryConfig {
        batch_size: 7,
        instance: "test".into(),
        ..ExpiryConfig::default()
    };
    Engine::new(store, Arc::new(clock.clone())).with_expiry_config(config)
}

pub struct MentorSpec<'a> {
    pub name: &'a str,
    pub status: MentorStatus,
    pub expires_on: Option<&'a str>,
}

impl<B: TestBackend> World<B> {
    pub fn set_today(&self, day: &str) {
        self.clock.set(noon(day));
    }

    /// Registers mentors directly (active or certification_expired as given).
    pub async fn mentors(&self, specs: &[MentorSpec<'_>]) -> Vec<MentorId> {
        let mentors = specs
            .iter()
            .enumerate()
            .map(|(n, spec)| NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse(spec.name).unwrap(),
                email: Email::parse(&format!("m{n}-{}@hlf.no", uuid::Uuid::new_v4().simple()))
                    .unwrap(),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: None,
                dynamics_key: None,
                status: spec.status,
                certification: spec.expires_on.map(|e| {
                    NewCertification::new(
                        CertificationPeriod::new(date("2020-01-01"), date(e)).unwrap(),
                    )
                }),
            })
            .collect();
        self.store
            .create_mentors(self.org.id, Actor::System, mentors, self.clock_now())
            .await
            .unwrap()
    }

    pub async fn mentor(&self, name: &str, expires_on: &str) -> MentorId {
        self.mentors(&[MentorSpec {
            name,
            status: MentorStatus::Active,
            expires_on: Some(expires_on),
        }])
        .await[0]
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        domain::Clock::now(&self.clock)
    }

    pub async fn run(&self) -> engine::expiry::RunReport {
        let today = domain::business_date(self.clock_now(), self.org.timezone);
        self.engine
            .run_expiry(&self.org, today)
            .await
            .expect("run succeeds")
    }

    pub async fn status(&self, id: MentorId) -> MentorStatus {
        self.store.mentor(self.org.id, id).await.unwrap().status
    }

    /// The one integer a (portable) query returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        B::scalar(&self.db, sql).await
    }

    /// Run a (portable) statement; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        B::execute(&self.db, sql).await
    }

    /// Everything the runs did, as comparable text: ledger, history, notifications, outbox, digests.
    /// Mentors, users and organisations appear by their unique email or slug (ids have no portable
    /// text form).
    pub async fn effects(&self) -> Vec<String> {
        let queries = [
            "SELECT m.email || ' ' || r.threshold_days || ' ' || r.certification_expires_on || ' ' || r.outcome || ' ' || r.business_date \
             FROM cert_expiry_reminders r JOIN mentors m ON m.id = r.mentor_id ORDER BY 1",
            "SELECT m.email || ' ' || coalesce(h.from_status, '-') || '>' || h.to_status || ' ' || coalesce(h.idempotency_key, '-') \
             FROM status_history h JOIN mentors m ON m.id = h.mentor_id ORDER BY 1",
            "SELECT coalesce(u.email, rm.email) || ' ' || n.kind || ' ' || coalesce(nm.email, '-') || ' ' \
                    || coalesce(n.payload ->> 'business_date', '') || ' ' || coalesce(n.payload ->> 'counts', '') \
             FROM notifications n \
             LEFT JOIN users u ON u.id = n.recipient_user_id \
             LEFT JOIN mentors rm ON rm.id = n.recipient_mentor_id \
             LEFT JOIN mentors nm ON nm.id = n.mentor_id ORDER BY 1",
            "SELECT m.email || ' ' || o.mentor_version FROM sync_outbox o JOIN mentors m ON m.id = o.mentor_id ORDER BY 1",
            "SELECT m.email || ' ' || r.resume_on FROM resume_notices r JOIN mentors m ON m.id = r.mentor_id ORDER BY 1",
            "SELECT o.slug || ' ' || d.business_date FROM digests d JOIN organisations o ON o.id = d.org_id ORDER BY 1",
        ];
        let mut out = Vec::new();
        for sql in queries {
            out.extend(B::strings(&self.db, sql).await);
        }
        out
    }

    pub async fn notifications_of_kind(&self, kind: &str) -> i64 {
        assert!(kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        self.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE kind = '{kind}'"
        ))
        .await
    }

    /// The notifications a mentor's login sees (newest first), through the store, with a login
    /// created for it.
    pub async fn mentor_notifications(&self, mentor: MentorId) -> Vec<Notification> {
        let login = self
            .store
            .create_user(NewUser {
                org_id: self.org.id,
                email: Email::parse(&format!("login-{}@hlf.no", uuid::Uuid::new_v4().simple()))
                    .unwrap(),
                role: Role::Mentor,
                mentor_id: Some(mentor),
                auth_subject: None,
                password_hash: None,
                locale: None,
            })
            .await
            .unwrap();
        self.store
            .notifications(&login, false, 100, None)
            .await
            .unwrap()
            .items
    }
}

/// Pause a mentor as a coordinator would, with an optional return date.
pub async fn pause<B: TestBackend>(world: &World<B>, id: MentorId, resume_on: Option<&str>) {
    let action = domain::Action::Pause {
        reason: domain::Reason::parse("ferie").unwrap(),
        resume_on: resume_on.map(date),
    };
    world
        .engine
        .request(&world.coordinators[0], id, action)
        .await
        .expect("pause");
}

/// The standard population, created on 2026-06-10 and meant to be run on 2026-06-15:
/// 6 lapsed active mentors, 5 active ones inside the reminder window (30, 14, 7, 3 and 0 days left),
/// one outside it, a paused one due back today, a paused one due back whose certification lapsed
/// meanwhile, a paused one due back in two days, and a paused one whose certification ends in 7 days.
pub struct Population {
    pub lapsed: Vec<MentorId>,
    pub last_day: MentorId,
    pub due_back: MentorId,
    pub due_back_lapsed: MentorId,
    pub back_soon: MentorId,
    pub paused_expiring: MentorId,
}

pub const RUN_DAY: &str = "2026-06-15";

pub async fn populate<B: TestBackend>(world: &World<B>) -> Population {
    world.set_today("2026-06-10");
    let lapsed_dates = [
        "2026-06-01",
        "2026-06-05",
        "2026-06-10",
        "2026-06-12",
        "2026-06-13",
        "2026-06-14",
    ];
    let lapsed = world
        .mentors(
            &lapsed_dates
                .iter()
                .map(|d| MentorSpec {
                    name: "Utløper",
                    status: MentorStatus::Active,
                    expires_on: Some(d),
                })
                .collect::<Vec<_>>(),
        )
        .await;
    world.mentor("Tretti", "2026-07-15").await;
    world.mentor("Fjorten", "2026-06-29").await;
    world.mentor("Sju", "2026-06-22").await;
    world.mentor("Tre", "2026-06-18").await;
    let last_day = world.mentor("Siste dag", RUN_DAY).await;
    world.mentor("Langt unna", "2026-08-01").await;
    let due_back = world.mentor("Tilbake i dag", "2027-01-01").await;
    pause(world, due_back, Some(RUN_DAY)).await;
    let due_back_lapsed = world.mentor("Tilbake men utløpt", "2026-06-12").await;
    pause(world, due_back_lapsed, Some("2026-06-14")).await;
    let back_soon = world.mentor("Snart tilbake", "2027-01-01").await;
    pause(world, back_soon, Some("2026-06-17")).await;
    let paused_expiring = world.mentor("Pause utløper", "2026-06-22").await;
    pause(world, paused_expiring, None).await;
    world.set_today(RUN_DAY);
    Population {
        lapsed,
        last_day,
        due_back,
        due_back_lapsed,
        back_soon,
        paused_expiring,
    }
}

/// Counts of everything the run did, comparable across databases (ids differ).
pub async fn summary<B: TestBackend>(world: &World<B>) -> Vec<String> {
    let sql = "
        SELECT 'reminder ' || threshold_days || ' ' || outcome || ': ' || count(*) FROM cert_expiry_reminders
            GROUP BY threshold_days, outcome
        UNION ALL SELECT 'history ' || coalesce(from_status, '-') || '>' || to_status || ' ' || actor_kind || ': ' || count(*)
            FROM status_history GROUP BY from_status, to_status, actor_kind
        UNION ALL SELECT 'notification ' || kind || ': ' || count(*) FROM notifications GROUP BY kind
        UNION ALL SELECT 'outbox: ' || count(*) FROM sync_outbox
        UNION ALL SELECT 'resume notice: ' || count(*) FROM resume_notices
        UNION ALL SELECT 'digest: ' || count(*) FROM digests
        ORDER BY 1";
    B::strings(&world.db, sql).await
}
