//! Several `serve` processes on one PostgreSQL database, each with the scheduler, relays and
//! senders on, all reading "now" from one rehearsal clock file (`[clock] file`) that the test moves
//! from night to night. Instances can be killed with SIGKILL and started again; every portal write
//! the simulator applies is kept for counting.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use dataverse_sim::WriteEvent;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::harness::{ORG, VISIBILITY_FIELD, World};
use crate::model::{Model, oslo};
use crate::support::{Server, Setup, free_port};

/// How long one simulated night (or a takeover) may take before the test fails.
pub const NIGHT: Duration = Duration::from_secs(60);
/// Relay leases: longer than the slowest answer the tests inject, short enough to wait out.
pub const SYNC_LEASE_SECONDS: u64 = 10;

struct Instance {
    /// Locked only to poll whether it still runs.
    server: Mutex<Server>,
    pid: u32,
    base: String,
    log: PathBuf,
}

pub struct Fleet {
    pub world: World,
    instances: Vec<Option<Instance>>,
    clock: PathBuf,
    writes: Arc<Mutex<Vec<WriteEvent>>>,
    started: usize,
    /// Configuration for instances started from now on, beside the fleet's own.
    env: Vec<(String, String)>,
}

impl Fleet {
    /// A world on `setup` (PostgreSQL) with the clock at `now`; no instance runs yet.
    pub async fn new(setup: Setup, now: DateTime<FixedOffset>) -> Fleet {
        let world = World::with_setup(setup).await;
        let clock = world.setup.dir.path().join("clock");
        let writes = Arc::new(Mutex::new(Vec::new()));
        let mut events = world.sim.writes();
        let kept = writes.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                kept.lock().expect("the writes lock").push(event);
            }
        });
        let fleet = Fleet {
            world,
            instances: Vec::new(),
            clock,
            writes,
            started: 0,
            env: Vec::new(),
        };
        fleet.set_clock(now);
        fleet
    }

    /// Moves every instance's "now" (written whole, then renamed into place).
    pub fn set_clock(&self, now: DateTime<FixedOffset>) {
        let next = self.clock.with_extension("next");
        std::fs::write(&next, now.to_rfc3339()).expect("write the clock");
        std::fs::rename(&next, &self.clock).expect("move the clock into place");
    }

    /// Sets a configuration variable for the instances started from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Starts `count` instances and waits until each answers ready.
    pub async fn start(&mut self, count: usize) {
        for _ in 0..count {
            self.instances.push(None);
            self.start_instance(self.instances.len() - 1).await;
        }
    }

    /// Starts instance `index` (again), with a log of its own.
    pub async fn start_instance(&mut self, index: usize) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        self.started += 1;
        let log = self
            .world
            .setup
            .dir
            .path()
            .join(format!("serve-{index}-{}.log", self.started));
        let child = self
            .world
            .command(&["serve"])
            .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("MENTOR_STATUS__CLOCK__FILE", &self.clock)
            .env("MENTOR_STATUS__SCHEDULER__TICK_SECONDS", "1")
            .env("MENTOR_STATUS__DATABASE_MAX_CONNECTIONS", "4")
            .env(
                "MENTOR_STATUS__SYNC__LEASE_SECONDS",
                SYNC_LEASE_SECONDS.to_string(),
            )
            .env("MENTOR_STATUS__SYNC__BACKOFF_INITIAL_SECONDS", "1")
            .env("MENTOR_STATUS__SYNC__BACKOFF_MAX_SECONDS", "3")
            .env("MENTOR_STATUS__DELIVERY__LEASE_SECONDS", "10")
            .env("MENTOR_STATUS__DELIVERY__BACKOFF_INITIAL_SECONDS", "1")
            .env("MENTOR_STATUS__DELIVERY__BACKOFF_MAX_SECONDS", "3")
            .env("MENTOR_STATUS__SMTP__TIMEOUT_SECONDS", "5")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the instance's log"))
            .spawn()
            .expect("start mentor-status serve");
        self.instances[index] = Some(Instance {
            pid: child.id(),
            server: Mutex::new(Server(child)),
            base: base.clone(),
            log,
        });
        let url = format!("{base}/readyz");
        self.eventually(&format!("instance {index} answers /readyz"), || async {
            matches!(
                self.world.client.get(&url).send().await,
                Ok(r) if r.status() == reqwest::StatusCode::OK
            )
        })
        .await;
        self.world.set_base(self.base_of(index));
    }

    /// SIGKILL: no shutdown, no cleanup, leases left behind.
    pub fn kill(&mut self, index: usize) {
        let instance = self.instances[index].take().expect("the instance runs");
        let mut server = instance.server.into_inner().expect("the server lock");
        server.0.kill().expect("kill the instance");
        server.0.wait().expect("reap the instance");
        let live = self
            .instances
            .iter()
            .flatten()
            .next()
            .expect("another instance runs");
        self.world.set_base(live.base.clone());
    }

    pub fn base_of(&self, index: usize) -> String {
        self.instances[index]
            .as_ref()
            .expect("the instance runs")
            .base
            .clone()
    }

    /// The running instance whose process id is `pid`.
    pub fn index_of_pid(&self, pid: u32) -> usize {
        self.instances
            .iter()
            .position(|i| i.as_ref().is_some_and(|i| i.pid == pid))
            .unwrap_or_else(|| panic!("no running instance has process id {pid}"))
    }

    /// The running instance whose log names `text` (e.g. a relay's lease owner).
    pub fn index_logging(&self, text: &str) -> Option<usize> {
        self.instances.iter().position(|i| {
            i.as_ref().is_some_and(|i| {
                std::fs::read_to_string(&i.log)
                    .unwrap_or_default()
                    .contains(text)
            })
        })
    }

    /// Every instance's log so far, each under a heading.
    pub fn logs(&self) -> String {
        let dir = self.world.setup.dir.path();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("the test directory")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        logs.iter()
            .map(|p| {
                format!(
                    "--- {} ---\n{}",
                    p.display(),
                    std::fs::read_to_string(p).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Polls `check` every 50 ms until it holds; fails after [`NIGHT`], or at once when a running
    /// instance ended unasked, with every log.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        testkit::poll_until_watching(what, NIGHT, check, || self.exited(), || self.logs()).await
    }

    /// How a running instance ended unasked, if one did.
    fn exited(&self) -> Option<String> {
        self.instances
            .iter()
            .enumerate()
            .find_map(|(index, instance)| {
                let mut server = instance.as_ref()?.server.lock().expect("the server lock");
                let status = server.0.try_wait().expect("poll the instance")?;
                Some(format!("instance {index} exited with {status}"))
            })
    }

    /// Every portal write applied so far, in order.
    pub fn writes(&self) -> Vec<WriteEvent> {
        self.writes.lock().expect("the writes lock").clone()
    }

    /// The visibility values written to each contact, in order.
    pub fn visibility_writes(&self) -> std::collections::HashMap<Uuid, Vec<Value>> {
        let mut by_contact: std::collections::HashMap<Uuid, Vec<Value>> = Default::default();
        for write in self.writes() {
            by_contact.entry(write.contact_id).or_default().push(
                write
                    .fields
                    .get(VISIBILITY_FIELD)
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        by_contact
    }

    /// A SQL count on the fleet's database.
    pub async fn count(&self, sql: &str) -> i64 {
        self.world.setup.scalar(sql).await
    }

    /// Waits until the night of `day` is done everywhere: both scheduled jobs completed for it,
    /// every email and portal change delivered, every alert event posted.
    pub async fn night_done(&self, day: NaiveDate) -> Duration {
        let claims = format!(
            "SELECT count(*) FROM scheduled_claims c JOIN organisations o ON o.id = c.org_id \
             WHERE o.slug = '{ORG}' AND c.business_date = '{day}' AND c.completed_at IS NOT NULL"
        );
        self.eventually(&format!("the night of {day} is done"), || async {
            self.count(&claims).await == 2 && self.queues_empty().await
        })
        .await
    }

    /// Waits until no email waits to be sent (none is in flight where a fault strikes next).
    pub async fn emails_sent(&self) {
        self.eventually("every queued email sent", || async {
            self.count("SELECT count(*) FROM email_outbox WHERE state = 'pending'")
                .await
                == 0
        })
        .await;
    }

    /// Nothing waits in any outbox.
    pub async fn queues_empty(&self) -> bool {
        self.count(
            "SELECT (SELECT count(*) FROM email_outbox WHERE state = 'pending') \
                  + (SELECT count(*) FROM sync_outbox WHERE state = 'pending') \
                  + (SELECT count(*) FROM webhook_outbox WHERE state = 'pending')",
        )
        .await
            == 0
    }
}

/// A test transaction holding `cert_expiry_reminders` against inserts: a run that reaches its
/// reminders step waits there.
pub struct HeldRun(PgConnection);

impl HeldRun {
    /// Lets the run go on (when its connection still exists).
    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.0)
            .await
            .expect("release the held run");
    }
}

impl Fleet {
    /// Starts the night of `day` (05:30) with its expiry run held in the reminders step, and
    /// returns once the run's lapses have committed, it waits on the lock, and every email it
    /// queued has been sent (so none is in flight wherever a fault strikes next).
    pub async fn hold_expiry_in_reminders(&self, day: NaiveDate, model: &Model) -> HeldRun {
        let url = self
            .world
            .setup
            .db
            .as_ref()
            .expect("a PostgreSQL setup")
            .url();
        let mut blocker = PgConnection::connect(url).await.expect("connect");
        sqlx::query("BEGIN")
            .execute(&mut blocker)
            .await
            .expect("begin");
        sqlx::query("LOCK TABLE cert_expiry_reminders IN SHARE MODE")
            .execute(&mut blocker)
            .await
            .expect("lock");
        let start = oslo(day, "05:30");
        self.set_clock(start);
        let lapses = model.lapsed[&day].len() as i64;
        assert!(
            lapses > 0 && model.sent[&day] > 0,
            "{day} must lapse and remind"
        );
        let lapsed_today = format!(
            "SELECT count(*) FROM status_history WHERE to_status = 'certification_expired' \
             AND occurred_at >= '{}'",
            start.to_rfc3339()
        );
        self.eventually("the run's lapses committed, its reminders held", || async {
            self.count(&lapsed_today).await == lapses
                && self
                    .count(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .await
                    > 0
        })
        .await;
        self.emails_sent().await;
        HeldRun(blocker)
    }

    /// The instance running the expiry job of `day` (the run log names its process).
    pub async fn running_expiry_instance(&self, day: NaiveDate) -> usize {
        let running = self
            .world
            .setup
            .lines(&format!(
                "SELECT instance FROM job_runs WHERE job = 'expiry' AND business_date = '{day}' \
                 AND outcome = 'running'"
            ))
            .await;
        let pid: u32 = running
            .first()
            .and_then(|instance| instance.rsplit(':').next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("one running run naming its process: {running:?}"));
        self.index_of_pid(pid)
    }

    /// The run log of `job` on `day`: `outcome: error`, oldest first.
    pub async fn run_log(&self, job: &str, day: NaiveDate) -> Vec<String> {
        self.world
            .setup
            .lines(&format!(
                "SELECT outcome || ': ' || coalesce(error, '') FROM job_runs \
                 WHERE job = '{job}' AND business_date = '{day}' ORDER BY started_at"
            ))
            .await
    }
}
