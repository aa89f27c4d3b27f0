//! A simulated month on several instances: `BENCH_INSTANCES` (3) `mentor-status serve`
//! processes of a release build on ONE PostgreSQL database, with their scheduler, listing sync relays
//! and email senders all running, walk `BENCH_NIGHTS` (31) business dates of an organisation of
//! `BENCH_MENTORS` (100,000) mentors, every one linked to a contact of the Dataverse simulator. The
//! simulator and the SMTP server (smtp-sink) run in this process and see every portal write and every
//! email.
//!
//! Run it through `scripts/bench-month.sh` (which builds the release binary and this example first).
//!
//! What it does:
//!
//! 1. creates the database `mentor_status_bench_month` on `BENCH_ADMIN_URL`'s server (dropping an
//!    earlier one), runs `migrate`, `orgs add --slug bench`, `users add` (one coordinator: digests go
//!    to coordinators), and seeds the mentors with `psql -f bench/seed-month-postgres.sql` (statuses
//!    agreeing with the dates, email on in English; see the file);
//! 2. starts the simulator with the demo contacts 1..=N (`dataverse_sim::demo::seed_contacts`, all
//!    hidden) and smtp-sink, and records every write and every email from their broadcasts on two
//!    threads of their own;
//! 3. starts the instances with the rehearsal clock (`[clock] file`) at 00:30 local time of the
//!    first date, scheduler tick 1 s, relay and sender polling 1 s;
//! 4. for each night, writes 05:30 local time of the next date into the clock file (temporary file +
//!    rename) and polls the database every 50 ms until the night's work is done: the scheduled runs
//!    `expiry` and `listing_sync` of that business date succeeded, and no `email_outbox` and no
//!    `sync_outbox` row is pending. The wall time is from the rename to that moment. Between nights
//!    (not timed) it checks every contact of the simulator against the database's desired state;
//! 5. checks the whole month: duplicates (an email Message-ID received twice; a contact written twice
//!    in a row with identical fields) and losses (an `email_outbox` row sent without its message
//!    received, or not sent at the end; a notification without its email; a contact whose
//!    visibility or status differs from the database's at the end, or after any night), prints a
//!    summary and exits 1 when any is not 0.
//!
//! The integration maps the status to an option-set column too (`hlf_likepersonstatus`), as
//! `docs/operations.md` shows: every change of status is then a different write, so two identical
//! writes in a row are a repeated push, never two changes that look alike on the listing.
//!
//! Environment: `BENCH_BIN` (the `mentor-status` binary), `BENCH_MENTORS`, `BENCH_NIGHTS`,
//! `BENCH_INSTANCES`, `BENCH_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `BENCH_START` (first business date, default today in Europe/Oslo), `BENCH_POOL` (each instance's
//! `database_max_connections`, default 4), `BENCH_NIGHT_TIMEOUT` (seconds, default 1200),
//! `BENCH_LOG_LEVEL` (the instances' `log.level`, default `warn`), `BENCH_KEEP=1` (keep the database
//! and the working directory with the instances' logs), `BENCH_PG_SOCKET_DIR` (default
//! `/var/run/postgresql`: the instances reach PostgreSQL through its Unix socket when it is there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use dataverse_sim::{SimConfig, Simulator, demo};
use serde_json::{Map, Value};
use smtp_sink::SmtpSink;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

const DATABASE: &str = "mentor_status_bench_month";
const ORG: &str = "bench";
const COORDINATOR: &str = "coordinator@bench.example.org";
const FROM: &str = "Bench Likeperson <noreply@bench.example.org>";
const ID_DOMAIN: &str = "bench.example.org";
const VISIBILITY_FIELD: &str = demo::VISIBILITY_FIELD;
const STATUS_FIELD: &str = "hlf_likepersonstatus";
const TIME_ZONE: &str = "Europe/Oslo";
const POLL: Duration = Duration::from_millis(50);

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

struct Settings {
    bin: PathBuf,
    seed: PathBuf,
    mentors: u32,
    nights: u32,
    instances: u32,
    admin_url: String,
    start: NaiveDate,
    pool: u32,
    night_timeout: Duration,
    log_level: String,
    keep: bool,
    socket_dir: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value
            .parse()
            .map_err(|_| format!("{name}={value} is not valid").into()),
        _ => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        let today = Utc::now().with_timezone(&zone()).date_naive();
        let settings = Settings {
            bin: env_or("BENCH_BIN", target.join("release/mentor-status"))?,
            seed: env_or("BENCH_SEED", root.join("bench/seed-month-postgres.sql"))?,
            mentors: env_or("BENCH_MENTORS", 100_000)?,
            nights: env_or("BENCH_NIGHTS", 31)?,
            instances: env_or("BENCH_INSTANCES", 3)?,
            admin_url: env_or(
                "BENCH_ADMIN_URL",
                "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            )?,
            start: env_or("BENCH_START", today)?,
            pool: env_or("BENCH_POOL", 4)?,
            night_timeout: Duration::from_secs(env_or("BENCH_NIGHT_TIMEOUT", 1200)?),
            log_level: env_or("BENCH_LOG_LEVEL", "warn".to_owned())?,
            keep: env_or("BENCH_KEEP", 0u8)? == 1,
            socket_dir: env_or("BENCH_PG_SOCKET_DIR", "/var/run/postgresql".to_owned())?,
        };
        if settings.mentors == 0 || settings.nights == 0 || settings.instances == 0 {
            return Err("BENCH_MENTORS, BENCH_NIGHTS and BENCH_INSTANCES must be 1 or more".into());
        }
        if settings.mentors.is_multiple_of(7919) {
            return Err("BENCH_MENTORS must not be a multiple of 7919 (see the seed)".into());
        }
        if !settings.bin.exists() {
            return Err(format!(
                "{} does not exist: build it with cargo build --release -p mentor-status-cli \
                 --bin mentor-status (scripts/bench-month.sh does)",
                settings.bin.display()
            )
            .into());
        }
        Ok(settings)
    }
}

fn zone() -> impl TimeZone<Offset = impl std::fmt::Display> + Copy {
    domain::OrgTimeZone::parse(TIME_ZONE)
        .expect("a known time zone")
        .tz()
}

/// `date` at `time` local time of the organisation, as the clock file holds it.
fn local_instant(date: NaiveDate, time: NaiveTime) -> String {
    let local = zone()
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .expect("05:30 and 00:30 exist on every date in Europe/Oslo");
    local.to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// The database, through psql and the administrative URL (as the other benchmark scripts do).

struct Database {
    admin_url: String,
    /// TCP URL of the bench database (psql, this process).
    tcp_url: String,
    /// What the instances use: the Unix socket when there is one.
    serve_url: String,
    keep: bool,
}

impl Database {
    fn create(settings: &Settings) -> Result<Database> {
        let mut url = reqwest::Url::parse(&settings.admin_url)?;
        url.set_path(&format!("/{DATABASE}"));
        let tcp_url = url.to_string();
        let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost"));
        let socket = Path::new(&settings.socket_dir)
            .join(format!(".s.PGSQL.{}", url.port().unwrap_or(5432)));
        let serve_url = if local && socket.exists() {
            format!(
                "postgres://{}@localhost:{}/{DATABASE}?host={}",
                url.username(),
                url.port().unwrap_or(5432),
                settings.socket_dir
            )
        } else {
            tcp_url.clone()
        };
        let database = Database {
            admin_url: settings.admin_url.clone(),
            tcp_url,
            serve_url,
            keep: settings.keep,
        };
        database.drop_it()?;
        psql(
            &database.admin_url,
            &["-c", &format!("CREATE DATABASE {DATABASE}")],
        )?;
        Ok(database)
    }

    fn drop_it(&self) -> Result<()> {
        psql(
            &self.admin_url,
            &[
                "-c",
                "SET client_min_messages = warning",
                "-c",
                &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
            ],
        )
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("bench: kept the database {DATABASE} ({})", self.tcp_url);
        } else if let Err(e) = self.drop_it() {
            eprintln!("bench: could not drop {DATABASE}: {e}");
        }
    }
}

fn psql(url: &str, args: &[&str]) -> Result<()> {
    let output = Command::new("psql")
        .arg(url)
        .args(["-qX", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("psql: {e} (is it installed?)"))?;
    if !output.status.success() {
        return Err(format!(
            "psql {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}

/// A one-shot `mentor-status` command beside the servers (no configuration file, no clock file).
fn one_shot(settings: &Settings, database: &Database, work: &Path, args: &[&str]) -> Result<()> {
    let mut command = Command::new(&settings.bin);
    scrub(&mut command);
    let output = command
        .args(args)
        .current_dir(work)
        .env("MENTOR_STATUS__DATABASE_URL", &database.serve_url)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "mentor-status {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}

/// No configuration of the caller's environment leaks into the processes started here.
fn scrub(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MENTOR_STATUS__") {
            command.env_remove(name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the simulator and the SMTP server received, recorded on threads of their own so a busy
// runtime never makes the broadcasts overflow.

#[derive(Default)]
struct WriteLog {
    /// When each write was applied, in order.
    times: Vec<SystemTime>,
    /// The fields of the last write of each contact.
    last: HashMap<Uuid, Map<String, Value>>,
    /// Writes identical to the contact's previous write.
    duplicates: u64,
    duplicate_examples: Vec<String>,
    /// Events the observer missed because it fell behind (should stay 0).
    missed: u64,
}

#[derive(Default)]
struct MailLog {
    times: Vec<DateTime<Utc>>,
    /// Message-ID (without brackets) → how often it arrived.
    ids: HashMap<String, u32>,
    without_id: u64,
    missed: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn observe_writes(sim: &Simulator) -> Arc<Mutex<WriteLog>> {
    let log = Arc::new(Mutex::new(WriteLog::default()));
    let mut events = sim.writes();
    let kept = Arc::clone(&log);
    std::thread::Builder::new()
        .name("bench: portal writes".to_owned())
        .spawn(move || {
            loop {
                match events.blocking_recv() {
                    Ok(event) => {
                        let mut log = lock(&kept);
                        log.times.push(event.at);
                        let previous = log.last.insert(event.contact_id, event.fields.clone());
                        if previous.as_ref() == Some(&event.fields) {
                            log.duplicates += 1;
                            if log.duplicate_examples.len() < 5 {
                                let example = format!(
                                    "contact {} written twice with {}",
                                    event.contact_id,
                                    Value::Object(event.fields)
                                );
                                log.duplicate_examples.push(example);
                            }
                        }
                    }
                    Err(RecvError::Lagged(n)) => lock(&kept).missed += n,
                    Err(RecvError::Closed) => break,
                }
            }
        })
        .expect("start the write observer");
    log
}

fn observe_mail(sink: &SmtpSink) -> Arc<Mutex<MailLog>> {
    let log = Arc::new(Mutex::new(MailLog::default()));
    let mut messages = sink.subscribe();
    let kept = Arc::clone(&log);
    std::thread::Builder::new()
        .name("bench: emails".to_owned())
        .spawn(move || {
            loop {
                match messages.blocking_recv() {
                    Ok(message) => {
                        let id = message_id(&message.raw);
                        let mut log = lock(&kept);
                        log.times.push(message.received_at);
                        match id {
                            Some(id) => *log.ids.entry(id).or_default() += 1,
                            None => log.without_id += 1,
                        }
                    }
                    Err(RecvError::Lagged(n)) => lock(&kept).missed += n,
                    Err(RecvError::Closed) => break,
                }
            }
        })
        .expect("start the email observer");
    log
}

/// The Message-ID header's value without angle brackets, read from the header block only (cheaper
/// than parsing the whole message, and enough for the ids mentor-status writes).
fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("message-id") {
            let mut value = value.trim().to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push_str(next.trim());
                lines.next();
            }
            return Some(
                value
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned(),
            );
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The instances.

struct Instance {
    child: Child,
    url: String,
    log: PathBuf,
}

struct Instances(Vec<Instance>);

impl Instances {
    fn start(
        settings: &Settings,
        database: &Database,
        work: &Path,
        config: &Path,
    ) -> Result<Instances> {
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let mut instances = Instances(Vec::new());
        for i in 1..=settings.instances {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let log = work.join(format!("serve-{i}.log"));
            let mut command = Command::new(&settings.bin);
            scrub(&mut command);
            command
                .arg("--config")
                .arg(config)
                .arg("serve")
                .current_dir(work)
                .env("MENTOR_STATUS__DATABASE_URL", &database.serve_url)
                .env(
                    "MENTOR_STATUS__DATABASE_MAX_CONNECTIONS",
                    settings.pool.to_string(),
                )
                .env("MENTOR_STATUS__AUTH__JWT_SECRET", &secret)
                .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
                .env("MENTOR_STATUS__SCHEDULER__TICK_SECONDS", "1")
                .env("MENTOR_STATUS__LOG__LEVEL", &settings.log_level)
                .env(
                    "MENTOR_STATUS__ORGS__BENCH__DYNAMICS__CLIENT_SECRET",
                    SimConfig::default().client_secret,
                )
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?);
            instances.0.push(Instance {
                child: command.spawn()?,
                url: format!("http://127.0.0.1:{port}"),
                log,
            });
        }
        Ok(instances)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        for i in 0..self.0.len() {
            loop {
                self.check_alive()?;
                let url = format!("{}/readyz", self.0[i].url);
                if matches!(client.get(&url).send().await, Ok(r) if r.status().is_success()) {
                    break;
                }
                if started.elapsed() > Duration::from_secs(120) {
                    return Err(format!("instance {} is not ready after 120 s", i + 1).into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    fn check_alive(&mut self) -> Result<()> {
        for (i, instance) in self.0.iter_mut().enumerate() {
            if let Some(status) = instance.child.try_wait()? {
                let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                return Err(format!(
                    "instance {} exited with {status}; the end of its log:\n{}",
                    i + 1,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
                .into());
            }
        }
        Ok(())
    }

    fn pids(&self) -> Vec<u32> {
        self.0.iter().map(|i| i.child.id()).collect()
    }

    /// SIGTERM to each (they finish what they do and exit), then wait; SIGKILL after 20 s.
    fn stop(&mut self) {
        for instance in &self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(instance.child.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for instance in &mut self.0 {
            loop {
                match instance.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = instance.child.kill();
                        let _ = instance.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.0.clear();
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// CPU time, to see where a night's time goes.

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds of a process (0 when it is gone).
fn process_cpu(pid: &str, ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / ticks
}

/// Busy CPU seconds of the whole machine, all cores together.
fn machine_busy(ticks: f64) -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle) / ticks
}

/// CPU seconds spent during a night.
#[derive(Clone, Copy, Default)]
struct Cpu {
    serve: f64,
    driver: f64,
    /// The PostgreSQL backends serving the bench database (not the server's shared background
    /// processes: WAL writer, checkpointer, …).
    postgres: f64,
    machine: f64,
}

struct CpuSnapshot {
    serve: f64,
    driver: f64,
    postgres: HashMap<String, f64>,
    machine: f64,
}

/// The PostgreSQL backends connected to the bench database, by pid: their title names it.
fn postgres_backends(ticks: f64) -> HashMap<String, f64> {
    let mut backends = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return backends;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(title) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&title);
        if title.starts_with("postgres: ") && title.contains(DATABASE) {
            let cpu = process_cpu(&pid, ticks);
            backends.insert(pid, cpu);
        }
    }
    backends
}

fn cpu_now(pids: &[u32], ticks: f64) -> CpuSnapshot {
    CpuSnapshot {
        serve: pids
            .iter()
            .map(|p| process_cpu(&p.to_string(), ticks))
            .sum(),
        driver: process_cpu("self", ticks),
        postgres: postgres_backends(ticks),
        machine: machine_busy(ticks),
    }
}

/// What was spent between two snapshots; a backend that started meanwhile counts from 0 (one that
/// ended meanwhile is not counted: the pools keep their connections).
fn cpu_between(before: &CpuSnapshot, after: &CpuSnapshot) -> Cpu {
    Cpu {
        serve: after.serve - before.serve,
        driver: after.driver - before.driver,
        postgres: after
            .postgres
            .iter()
            .map(|(pid, cpu)| cpu - before.postgres.get(pid).copied().unwrap_or(0.0))
            .sum(),
        machine: after.machine - before.machine,
    }
}

// ---------------------------------------------------------------------------------------------
// One night.

struct Night {
    date: NaiveDate,
    wall: Duration,
    expiry_done: Duration,
    sync_done: Duration,
    emails: usize,
    emails_queued: i64,
    /// From the clock's move to the night's last email / portal write.
    last_email: Option<Duration>,
    writes: usize,
    last_write: Option<Duration>,
    expiry: Value,
    listing: Value,
    runs: i64,
    mismatches: u64,
    cpu: Cpu,
}

#[derive(sqlx::FromRow)]
struct Progress {
    expiry_done: i64,
    sync_done: i64,
    failed: i64,
    emails_pending: i64,
    sync_pending: i64,
}

async fn progress(pool: &PgPool, date: NaiveDate) -> Result<Progress> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE job = $2 AND outcome = 'succeeded') AS expiry_done, \
                count(*) FILTER (WHERE job = $3 AND outcome = 'succeeded') AS sync_done, \
                count(*) FILTER (WHERE outcome = 'failed') AS failed, \
                (SELECT count(*) FROM email_outbox WHERE state = 'pending') AS emails_pending, \
                (SELECT count(*) FROM sync_outbox WHERE state = 'pending') AS sync_pending \
         FROM job_runs WHERE business_date = $1",
    )
    .bind(date)
    .bind(engine::Job::Expiry.as_str())
    .bind(engine::Job::ListingSync.as_str())
    .fetch_one(pool)
    .await?)
}

async fn count(pool: &PgPool, sql: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

fn since(start: SystemTime, at: SystemTime) -> Duration {
    at.duration_since(start).unwrap_or_default()
}

/// The desired listing fields of every linked mentor, compared with the simulator's records; the
/// number that differ (first few printed).
async fn portal_mismatches(pool: &PgPool, sim: &Simulator, label: &str) -> Result<u64> {
    let rows: Vec<(Uuid, String, bool)> = sqlx::query_as(
        "SELECT dynamics_contact_id, status, listed_publicly FROM mentors \
         WHERE dynamics_contact_id IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let mut mismatches = 0;
    for (contact, status, listed) in rows {
        let wanted_visible = Value::Bool(status == "active" && listed);
        let wanted_status = Value::from(status_value(&status));
        let record = sim.contact(contact);
        let shown = record.as_ref().map(|r| {
            (
                r.get(VISIBILITY_FIELD).cloned().unwrap_or(Value::Null),
                r.get(STATUS_FIELD).cloned().unwrap_or(Value::Null),
            )
        });
        if shown.as_ref() != Some(&(wanted_visible.clone(), wanted_status.clone())) {
            mismatches += 1;
            if mismatches <= 5 {
                eprintln!(
                    "bench: {label}: contact {contact} shows {shown:?}, the database wants \
                     ({wanted_visible}, {wanted_status}) ({status}, listed {listed})"
                );
            }
        }
    }
    Ok(mismatches)
}

fn status_value(status: &str) -> i64 {
    match status {
        "active" => 1,
        "paused" => 2,
        "certification_expired" => 3,
        _ => 4,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_night(
    n: u32,
    settings: &Settings,
    pool: &PgPool,
    clock_file: &Path,
    instances: &mut Instances,
    sim: &Simulator,
    writes: &Mutex<WriteLog>,
    mail: &Mutex<MailLog>,
    ticks: f64,
) -> Result<Night> {
    let date = settings.start + chrono::Days::new(u64::from(n));
    let instant = local_instant(date, NaiveTime::from_hms_opt(5, 30, 0).expect("a time"));
    let emails_before = count(pool, "SELECT count(*) FROM email_outbox").await?;
    let writes_before = lock(writes).times.len();
    let mail_before = lock(mail).times.len();
    let pids = instances.pids();
    let cpu_before = cpu_now(&pids, ticks);

    let temporary = clock_file.with_extension("next");
    std::fs::write(&temporary, format!("{instant}\n"))?;
    let moved_at = SystemTime::now();
    let started = Instant::now();
    std::fs::rename(&temporary, clock_file)?;

    let (mut expiry_done, mut sync_done) = (None, None);
    let wall = loop {
        let p = progress(pool, date).await?;
        let elapsed = started.elapsed();
        if p.expiry_done > 0 && expiry_done.is_none() {
            expiry_done = Some(elapsed);
        }
        if p.sync_done > 0 && sync_done.is_none() {
            sync_done = Some(elapsed);
        }
        if p.failed > 0 {
            let errors: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT job, error FROM job_runs WHERE business_date = $1 AND outcome = 'failed'",
            )
            .bind(date)
            .fetch_all(pool)
            .await?;
            return Err(format!("night {} ({date}): runs failed: {errors:?}", n + 1).into());
        }
        if p.expiry_done > 0 && p.sync_done > 0 && p.emails_pending == 0 && p.sync_pending == 0 {
            break elapsed;
        }
        if elapsed > settings.night_timeout {
            return Err(format!(
                "night {} ({date}) not done after {:?}: expiry done {}, listing sync done {}, \
                 {} emails and {} sync rows pending",
                n + 1,
                settings.night_timeout,
                p.expiry_done,
                p.sync_done,
                p.emails_pending,
                p.sync_pending
            )
            .into());
        }
        instances.check_alive()?;
        tokio::time::sleep(POLL).await;
    };
    let cpu_after = cpu_now(&pids, ticks);

    let runs: Vec<(String, Value)> = sqlx::query_as(
        "SELECT job, counts FROM job_runs WHERE business_date = $1 AND trigger = 'scheduled'",
    )
    .bind(date)
    .fetch_all(pool)
    .await?;
    let find = |job: &str| {
        runs.iter()
            .find(|(j, _)| j == job)
            .map(|(_, c)| c.clone())
            .unwrap_or(Value::Null)
    };
    let (emails, last_email) = {
        let log = lock(mail);
        let night = &log.times[mail_before..];
        let moved: DateTime<Utc> = moved_at.into();
        let last = night
            .iter()
            .max()
            .map(|at| (*at - moved).to_std().unwrap_or_default());
        (night.len(), last)
    };
    let (night_writes, last_write) = {
        let log = lock(writes);
        let night = &log.times[writes_before..];
        let last = night.iter().max().map(|at| since(moved_at, *at));
        (night.len(), last)
    };
    let emails_queued = count(pool, "SELECT count(*) FROM email_outbox").await? - emails_before;
    let mismatches = portal_mismatches(pool, sim, &format!("after night {}", n + 1)).await?;
    Ok(Night {
        date,
        wall,
        expiry_done: expiry_done.unwrap_or(wall),
        sync_done: sync_done.unwrap_or(wall),
        emails,
        emails_queued,
        last_email,
        writes: night_writes,
        last_write,
        expiry: find(engine::Job::Expiry.as_str()),
        listing: find(engine::Job::ListingSync.as_str()),
        runs: runs.len() as i64,
        mismatches,
        cpu: cpu_between(&cpu_before, &cpu_after),
    })
}

fn c(counts: &Value, key: &str) -> u64 {
    counts.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn print_night(n: u32, night: &Night) {
    let e = &night.expiry;
    let l = &night.listing;
    println!(
        "   night {:>2} {}  {:>7.2} s (expiry {:.2} s, listing sync {:.2} s)  emails {:>6} \
         (queued {:>6})  portal writes {:>6}  | expired {} resumed {} reminders {}/{} skipped, \
         notices {} | sync queued {} drift {} | last email {} s, last write {} s | \
         CPU s: serve {:.1}, PostgreSQL {:.1}, driver {:.1}, machine {:.1} | portal mismatches {}",
        n + 1,
        night.date,
        night.wall.as_secs_f64(),
        night.expiry_done.as_secs_f64(),
        night.sync_done.as_secs_f64(),
        night.emails,
        night.emails_queued,
        night.writes,
        c(e, "expired"),
        c(e, "resumed") + c(e, "resumed_into_expired"),
        c(e, "reminders_sent"),
        c(e, "reminders_skipped"),
        c(e, "resume_notices"),
        c(l, "queued"),
        c(l, "drift"),
        seconds(night.last_email),
        seconds(night.last_write),
        night.cpu.serve,
        night.cpu.postgres,
        night.cpu.driver,
        night.cpu.machine,
        night.mismatches,
    );
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn min_median_max(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
    };
    (values[0], median, values[values.len() - 1])
}

fn thousands(n: impl Into<u128>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() {
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}

/// `Ok(false)`: measured, but with duplicates or losses.
async fn run() -> Result<bool> {
    let settings = Settings::from_env()?;
    let ticks = clock_ticks_per_second();
    let work = tempfile::Builder::new().prefix("bench-month-").tempdir()?;
    // Kept from the start with BENCH_KEEP=1, so the instances' logs survive a failure too.
    let (work_path, _work) = if settings.keep {
        (work.keep(), None)
    } else {
        (work.path().to_owned(), Some(work))
    };
    let version = Command::new(&settings.bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();

    println!(
        "== {} mentors in 1 organisation, {} instances of `serve`, {} nights from {}",
        settings.mentors, settings.instances, settings.nights, settings.start
    );
    let database = Database::create(&settings)?;
    one_shot(&settings, &database, &work_path, &["migrate"])?;
    one_shot(
        &settings,
        &database,
        &work_path,
        &[
            "orgs",
            "add",
            "--slug",
            ORG,
            "--name",
            "Bench",
            "--timezone",
            TIME_ZONE,
        ],
    )?;
    one_shot(
        &settings,
        &database,
        &work_path,
        &[
            "users",
            "add",
            "--org",
            ORG,
            "--email",
            COORDINATOR,
            "--role",
            "coordinator",
            "--locale",
            "en",
        ],
    )?;
    let seeding = Instant::now();
    let seed = settings.seed.to_string_lossy().into_owned();
    psql(
        &database.tcp_url,
        &[
            "-v",
            &format!("today={}", settings.start),
            "-v",
            &format!("mentors={}", settings.mentors),
            "-f",
            &seed,
        ],
    )?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&database.tcp_url)
        .await?;
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM mentors GROUP BY status ORDER BY status")
            .fetch_all(&pool)
            .await?;
    println!(
        "   seeded {} mentors in {:.1} s: {}",
        settings.mentors,
        seeding.elapsed().as_secs_f64(),
        statuses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let sim = Simulator::start(SimConfig::default()).await?;
    demo::seed_contacts(&sim, settings.mentors);
    let sink = SmtpSink::start()?;
    let writes = observe_writes(&sim);
    let mail = observe_mail(&sink);

    let clock_file = work_path.join("now");
    let first_instant = local_instant(
        settings.start,
        NaiveTime::from_hms_opt(0, 30, 0).expect("a time"),
    );
    std::fs::write(&clock_file, format!("{first_instant}\n"))?;
    let config = work_path.join("bench-month.toml");
    let sim_config = SimConfig::default();
    std::fs::write(
        &config,
        format!(
            "[clock]\nfile = \"{}\"\n\n\
             [sync]\npoll_seconds = 1\n\n\
             [smtp]\nurl = \"{}\"\nfrom = \"{FROM}\"\n\n\
             [delivery]\npoll_seconds = 1\n\n\
             [orgs.{ORG}.dynamics]\napi_base_url = \"{}\"\ntoken_url = \"{}\"\n\
             client_id = \"{}\"\nscope = \"{}\"\nvisibility_field = \"{VISIBILITY_FIELD}\"\n\
             status_field = \"{STATUS_FIELD}\"\n\
             status_values = {{ active = 1, paused = 2, certification_expired = 3, inactive = 4 }}\n",
            clock_file.display(),
            sink.url(),
            sim.base_url(),
            sim.token_url(),
            sim_config.client_id,
            sim.scope(),
        ),
    )?;
    let mut instances = Instances::start(&settings, &database, &work_path, &config)?;
    instances.wait_ready().await?;
    println!(
        "   {} instances ready (pool {} each, scheduler tick 1 s, relays and email sender in each); \
         simulator {} with {} contacts; smtp-sink {}",
        settings.instances,
        settings.pool,
        sim.base_url(),
        settings.mentors,
        sink.url()
    );

    let mut nights = Vec::new();
    for n in 0..settings.nights {
        let night = run_night(
            n,
            &settings,
            &pool,
            &clock_file,
            &mut instances,
            &sim,
            &writes,
            &mail,
            ticks,
        )
        .await?;
        print_night(n, &night);
        nights.push(night);
        // The sink keeps every message too; the observer has what the bench needs.
        sink.clear();
    }
    // Anything repeated late (a lease running out after a lost acknowledgement) shows up now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    instances.check_alive()?;

    // ---- the month's checks
    let outbox: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, state FROM email_outbox")
        .fetch_all(&pool)
        .await?;
    let kinds: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM email_outbox GROUP BY kind ORDER BY count(*) DESC",
    )
    .fetch_all(&pool)
    .await?;
    let notifications_without_email = count(
        &pool,
        "SELECT count(*) FROM notifications n WHERE NOT EXISTS \
         (SELECT 1 FROM email_outbox e WHERE e.id = n.id)",
    )
    .await?;
    let (
        email_duplicates,
        email_lost,
        email_unsent,
        email_unexpected,
        emails_received,
        mail_missed,
        without_id,
    ) = {
        let log = lock(&mail);
        let duplicates: u64 = log.ids.values().map(|n| u64::from(n - 1)).sum();
        let mut lost = 0u64;
        let mut unsent = 0u64;
        let mut expected = std::collections::HashSet::new();
        for (id, state) in &outbox {
            let message = format!("{id}@{ID_DOMAIN}");
            if state != "sent" {
                unsent += 1;
            } else if !log.ids.contains_key(&message) {
                lost += 1;
            }
            expected.insert(message);
        }
        let unexpected = log.ids.keys().filter(|id| !expected.contains(*id)).count() as u64;
        (
            duplicates,
            lost,
            unsent,
            unexpected,
            log.times.len(),
            log.missed,
            log.without_id,
        )
    };
    let sync_rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM sync_outbox GROUP BY state ORDER BY state")
            .fetch_all(&pool)
            .await?;
    let sync_unfinished = count(
        &pool,
        "SELECT count(*) FROM sync_outbox WHERE state <> 'done'",
    )
    .await?;
    let behind = count(
        &pool,
        "SELECT count(*) FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
         WHERE m.dynamics_contact_id IS NOT NULL \
           AND (s.pushed_version IS NULL OR s.pushed_version < m.version OR s.failure IS NOT NULL)",
    )
    .await?;
    let final_mismatches = portal_mismatches(&pool, &sim, "at the end").await?;
    let night_mismatches: u64 = nights.iter().map(|n| n.mismatches).sum();
    let (write_duplicates, write_examples, writes_observed, writes_missed) = {
        let log = lock(&writes);
        (
            log.duplicates,
            log.duplicate_examples.clone(),
            log.times.len(),
            log.missed,
        )
    };
    let sim_stats = sim.stats();
    let alerts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, count(*) FROM alerts WHERE resolved_at IS NULL GROUP BY kind ORDER BY kind",
    )
    .fetch_all(&pool)
    .await?;
    let runs_per_night: Vec<i64> = nights.iter().map(|n| n.runs).collect();
    let postgres_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    instances.stop();

    // ---- the summary
    let walls: Vec<f64> = nights.iter().map(|n| n.wall.as_secs_f64()).collect();
    let busy: f64 = walls.iter().sum();
    let (min, median, max) = min_median_max(walls.clone());
    let emails_total: usize = nights.iter().map(|n| n.emails).sum();
    let writes_total: usize = nights.iter().map(|n| n.writes).sum();
    let sending: f64 = nights
        .iter()
        .filter_map(|n| n.last_email)
        .map(|d| d.as_secs_f64())
        .sum();
    let writing: f64 = nights
        .iter()
        .filter_map(|n| n.last_write)
        .map(|d| d.as_secs_f64())
        .sum();
    let cpu_serve: f64 = nights.iter().map(|n| n.cpu.serve).sum();
    let cpu_driver: f64 = nights.iter().map(|n| n.cpu.driver).sum();
    let cpu_postgres: f64 = nights.iter().map(|n| n.cpu.postgres).sum();
    let cpu_machine: f64 = nights.iter().map(|n| n.cpu.machine).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        })
        .map_or(String::new(), |kb| format!("{:.0} GiB", kb / 1_048_576.0));
    let totals = |key: &str| -> u64 { nights.iter().map(|n| c(&n.expiry, key)).sum() };

    println!();
    println!(
        "== summary: {cores} cores ({cpu_model}), {memory}; {version}, PostgreSQL {postgres_version}"
    );
    println!(
        "   {} mentors in 1 organisation, all linked; {} `serve` instances on one database (pool {} \
         each; scheduler tick 1 s, relays and email sender polling 1 s), simulator and smtp-sink \
         in the driver; {} nights, {} to {}",
        settings.mentors,
        settings.instances,
        settings.pool,
        settings.nights,
        settings.start,
        nights.last().map_or(settings.start, |n| n.date)
    );
    println!(
        "   a night: from the clock file's move to 05:30 of the next date until both scheduled runs \
         ({}, {}) succeeded and no email or sync outbox row is pending",
        engine::Job::Expiry.as_str(),
        engine::Job::ListingSync.as_str()
    );
    let row = |measure: &str, result: String| println!("{measure:<44} | {result}");
    row("measure", "result".to_owned());
    row(
        &format!("wall time per night (all {})", nights.len()),
        format!("min {min:.2} s, median {median:.2} s, max {max:.2} s"),
    );
    if nights.len() > 1 {
        let (min, median, max) = min_median_max(walls[1..].to_vec());
        row(
            &format!("  nights 2-{} (steady state)", nights.len()),
            format!("min {min:.2} s, median {median:.2} s, max {max:.2} s"),
        );
    }
    row(
        "  night 1 (go-live: every mentor pushed)",
        format!(
            "{:.2} s ({} portal writes, {} emails)",
            walls[0],
            thousands(nights[0].writes as u64),
            thousands(nights[0].emails as u64)
        ),
    );
    row(
        "busy time (the nights' wall times summed)",
        format!("{busy:.1} s"),
    );
    row(
        "emails",
        format!(
            "{} = {:.1}/s over the busy time ({:.1}/s from each clock move to the night's last email)",
            thousands(emails_total as u64),
            emails_total as f64 / busy,
            if sending > 0.0 {
                emails_total as f64 / sending
            } else {
                0.0
            }
        ),
    );
    row(
        "portal writes",
        format!(
            "{} = {:.1}/s over the busy time ({:.1}/s from each clock move to the night's last \
             write); {} $batch requests",
            thousands(writes_total as u64),
            writes_total as f64 / busy,
            if writing > 0.0 {
                writes_total as f64 / writing
            } else {
                0.0
            },
            thousands(sim_stats.batch_requests)
        ),
    );
    row(
        "CPU during the nights (s)",
        format!(
            "serve {cpu_serve:.1}, PostgreSQL backends {cpu_postgres:.1}, driver (simulator, \
             smtp-sink) {cpu_driver:.1}; the machine was busy {cpu_machine:.1} of {:.1} (other \
             processes {:.1})",
            busy * cores as f64,
            cpu_machine - cpu_serve - cpu_postgres - cpu_driver
        ),
    );
    row(
        "email duplicates / losses",
        format!(
            "{email_duplicates} / {} (sent but not received {email_lost}, pending or dead \
             {email_unsent}, notifications without an email {notifications_without_email})",
            email_lost + email_unsent + notifications_without_email as u64
        ),
    );
    row(
        "portal write duplicates / losses",
        format!(
            "{write_duplicates} / {final_mismatches} (records wrong at the end {final_mismatches}; \
             after any night {night_mismatches}; sync rows not done {sync_unfinished}, mentors \
             behind {behind})"
        ),
    );
    println!();
    println!(
        "month: expired {}, resumed {}, reminders sent {} / skipped {}, resume notices {}",
        totals("expired"),
        totals("resumed") + totals("resumed_into_expired"),
        totals("reminders_sent"),
        totals("reminders_skipped"),
        totals("resume_notices"),
    );
    println!(
        "emails by kind: {}",
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "emails received {emails_received}, outbox rows {}, unexpected {email_unexpected}, without a \
         Message-ID {without_id}, missed by the observer {mail_missed}",
        outbox.len()
    );
    println!(
        "portal: {writes_observed} writes observed, {} applied by the simulator, missed by the \
         observer {writes_missed}; sync_outbox {}",
        sim_stats.patches_applied,
        sync_rows
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for example in &write_examples {
        println!("   duplicate write: {example}");
    }
    println!(
        "scheduled runs per night: {}; open alerts: {}",
        if runs_per_night.iter().all(|&r| r == 2) {
            "2 every night".to_owned()
        } else {
            format!("{runs_per_night:?}")
        },
        if alerts.is_empty() {
            "none".to_owned()
        } else {
            format!("{alerts:?}")
        }
    );
    if settings.keep {
        println!(
            "kept {} (instances' logs, configuration)",
            work_path.display()
        );
    }

    let clean = email_duplicates == 0
        && email_lost + email_unsent == 0
        && notifications_without_email == 0
        && write_duplicates == 0
        && final_mismatches == 0
        && night_mismatches == 0
        && sync_unfinished == 0
        && mail_missed == 0
        && writes_missed == 0
        && writes_observed as u64 == sim_stats.patches_applied
        && emails_received == outbox.len();
    if !clean {
        eprintln!("bench: duplicates or losses (or unobserved items): see above");
    }
    drop(database);
    Ok(clean)
}
