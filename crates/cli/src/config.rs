//! Configuration: one TOML file plus `MENTOR_STATUS__SECTION__KEY` environment variables (the
//! environment wins). Secrets come from the environment only and never appear in `Debug` output,
//! logs or error messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use domain::Thresholds;
use engine::expiry::{ExpiryConfig, RunAt};
use engine::scheduler::DEFAULT_TICK;
use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::delivery_config::{
    AlertsSection, DeliveryPlan, DeliverySection, SMTP_PASSWORD_ENV, SMTP_PASSWORD_KEY,
    SmtpSection, delivery_plan,
};
use crate::duration;
use crate::env::{ENV_PREFIX, environment};
use crate::error::CliError;
use crate::sync_config::{
    OrgSection, SyncSection, client_secret_env, is_client_secret_key, read_client_secrets,
};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "mentor-status.toml";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/mentor-status.db";
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// `serve` reports what it does; one-shot commands print their result and log only trouble.
pub const DEFAULT_SERVE_LOG_LEVEL: &str = "info";
pub const DEFAULT_COMMAND_LOG_LEVEL: &str = "warn";
/// HS256 needs a key at least as long as its output.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The environment variable that carries the token signing secret.
pub const JWT_SECRET_ENV: &str = "MENTOR_STATUS__AUTH__JWT_SECRET";
/// The figment key of the signing secret (the env variable name after the prefix, split on `__`).
const JWT_SECRET_KEY: &str = "auth.jwt_secret";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_database_url")]
    pub database_url: DatabaseUrl,
    #[serde(default = "default_max_connections")]
    pub database_max_connections: u32,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub dashboard: DashboardSection,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub expiry: ExpirySection,
    #[serde(default)]
    pub features: FeaturesSection,
    #[serde(default)]
    pub scheduler: SchedulerSection,
    #[serde(default)]
    pub clock: ClockSection,
    #[serde(default)]
    pub sync: SyncSection,
    #[serde(default)]
    pub smtp: SmtpSection,
    #[serde(default)]
    pub alerts: AlertsSection,
    #[serde(default)]
    pub delivery: DeliverySection,
    /// Per-organisation settings by slug; today the Dynamics integration.
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgSection>,
}

/// `[expiry]`: the nightly certification run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpirySection {
    /// Days before expiry to remind at (1–365; deduplicated and sorted).
    #[serde(default = "default_thresholds")]
    pub thresholds_days: Thresholds,
    /// Local time of day the scheduler starts the run (HH:MM, not 01:00–03:00).
    #[serde(default = "default_run_at")]
    pub run_at: String,
    /// Days before an automatic resume that the mentor is told about it.
    #[serde(default = "default_resume_notice_days")]
    pub resume_notice_days: u16,
    /// Mentors per database statement.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Organisations `expiry run` works on at once.
    #[serde(default = "default_parallel_orgs")]
    pub parallel_orgs: usize,
}

impl Default for ExpirySection {
    fn default() -> Self {
        Self {
            thresholds_days: default_thresholds(),
            run_at: default_run_at(),
            resume_notice_days: default_resume_notice_days(),
            batch_size: default_batch_size(),
            parallel_orgs: default_parallel_orgs(),
        }
    }
}

/// `[features]`: switches for behaviour that is rolled out gradually.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesSection {
    /// Let organisations' own reminder thresholds (their settings) replace `expiry.thresholds_days`.
    #[serde(default)]
    pub per_org_thresholds: bool,
}

/// `[clock]`: where "now" comes from. Rehearsals and tests only (see `clock.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// A file holding one RFC 3339 instant, read as "now" on every reading.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[scheduler]`: the background jobs of `serve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    /// Run scheduled jobs in this instance (several instances may; each job runs once).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Between looks for due work (seconds, or a duration such as `"1m"`).
    #[serde(default = "default_tick", deserialize_with = "duration::seconds")]
    pub tick_seconds: Duration,
}

impl Default for SchedulerSection {
    fn default() -> Self {
        Self {
            enabled: default_true(),
            tick_seconds: default_tick(),
        }
    }
}

fn default_thresholds() -> Thresholds {
    Thresholds::standard()
}

// The engine's defaults, written once there.
fn default_run_at() -> String {
    engine::expiry::RunAt::default().to_string()
}

fn default_resume_notice_days() -> u16 {
    engine::expiry::ExpiryConfig::default().resume_notice_days
}

fn default_batch_size() -> usize {
    engine::expiry::ExpiryConfig::default().batch_size
}

fn default_parallel_orgs() -> usize {
    2
}

fn default_true() -> bool {
    true
}

fn default_tick() -> Duration {
    DEFAULT_TICK
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port `serve` listens on.
    #[serde(default = "default_bind")]
    pub bind: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
        }
    }
}

/// `[dashboard]`: the coordinators' web pages (cookies and sessions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSection {
    /// Mark cookies `Secure` (HTTPS) even when the proxy does not send `X-Forwarded-Proto: https`.
    #[serde(default)]
    pub secure_cookies: bool,
    /// Count failed logins by the last `X-Forwarded-For` address (only behind a proxy that sets it).
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// A session unused this long ends (minutes, 1–1440).
    #[serde(
        default = "default_session_idle",
        deserialize_with = "duration::minutes"
    )]
    pub session_idle_minutes: Duration,
    /// A session ends this long after login (hours, 1–168).
    #[serde(
        default = "default_session_lifetime",
        deserialize_with = "duration::hours"
    )]
    pub session_hours: Duration,
}

impl Default for DashboardSection {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            trust_forwarded_for: false,
            session_idle_minutes: default_session_idle(),
            session_hours: default_session_lifetime(),
        }
    }
}

/// The web layer's defaults ([`web::DashboardConfig`]), so they are written once.
fn default_session_idle() -> Duration {
    web::DashboardConfig::default()
        .idle_timeout
        .to_std()
        .expect("a positive default")
}

fn default_session_lifetime() -> Duration {
    web::DashboardConfig::default()
        .absolute_timeout
        .to_std()
        .expect("a positive default")
}

impl DashboardSection {
    /// The web layer's view of `[dashboard]`, validated.
    pub fn config(&self) -> Result<web::DashboardConfig, CliError> {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        if !(MINUTE..=1440 * MINUTE).contains(&self.session_idle_minutes) {
            return Err(CliError::usage(
                "dashboard.session_idle_minutes must be from 1 to 1440",
            ));
        }
        if !(HOUR..=168 * HOUR).contains(&self.session_hours) {
            return Err(CliError::usage(
                "dashboard.session_hours must be from 1 to 168",
            ));
        }
        Ok(web::DashboardConfig {
            secure_cookies: self.secure_cookies,
            trust_forwarded_for: self.trust_forwarded_for,
            idle_timeout: chrono::Duration::from_std(self.session_idle_minutes)
                .expect("at most a day, checked above"),
            absolute_timeout: chrono::Duration::from_std(self.session_hours)
                .expect("at most a week, checked above"),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Signs and verifies API tokens (HS256). Read from [`JWT_SECRET_ENV`] only, never from the file,
    /// so it is not deserialized: `load` fills it in.
    #[serde(skip)]
    pub jwt_secret: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter: `info`, or `info,sqlx=warn`. Unset: [`DEFAULT_SERVE_LOG_LEVEL`]
    /// for `serve`, [`DEFAULT_COMMAND_LOG_LEVEL`] for the other commands.
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

fn default_database_url() -> DatabaseUrl {
    DatabaseUrl(DEFAULT_DATABASE_URL.to_owned())
}

fn default_max_connections() -> u32 {
    DEFAULT_MAX_CONNECTIONS
}

fn default_bind() -> String {
    DEFAULT_BIND.to_owned()
}

impl Config {
    /// Read the file at `explicit_path` (which must exist), or `./mentor-status.toml` when present,
    /// then the environment; check what every command needs (a supported database URL).
    pub fn load(explicit_path: Option<&Path>) -> Result<Config, CliError> {
        let file = match explicit_path {
            Some(path) if !path.is_file() => {
                return Err(CliError::usage(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(path) = &file {
            let from_file = Figment::from(Toml::file_exact(path));
            if from_file.find_value(JWT_SECRET_KEY).is_ok() {
                return Err(CliError::usage(format!(
                    "{} sets auth.jwt_secret; secrets are not read from the configuration file. \
                     Remove it there and set the environment variable {JWT_SECRET_ENV} instead",
                    path.display()
                )));
            }
            if from_file.find_value(SMTP_PASSWORD_KEY).is_ok() {
                return Err(CliError::usage(format!(
                    "{} sets {SMTP_PASSWORD_KEY}; secrets are not read from the configuration \
                     file. Remove it there and set the environment variable {SMTP_PASSWORD_ENV} \
                     instead",
                    path.display()
                )));
            }
            if let Ok(figment::value::Value::Dict(_, orgs)) = from_file.find_value("orgs") {
                for slug in orgs.keys() {
                    let key = format!("orgs.{slug}.dynamics.client_secret");
                    if from_file.find_value(&key).is_ok() {
                        return Err(CliError::usage(format!(
                            "{} sets {key}; secrets are not read from the configuration file. \
                             Remove it there and set the environment variable {} instead",
                            path.display(),
                            client_secret_env(slug)
                        )));
                    }
                }
            }
            figment = figment.merge(from_file);
        }
        // The secret is taken raw from the environment below: figment would parse a value such as
        // `123…` as a number and quote it in its type error.
        figment = figment.merge(
            environment()
                .ignore(&[JWT_SECRET_KEY, SMTP_PASSWORD_KEY])
                .filter(|key| !is_client_secret_key(key.as_str())),
        );
        let mut config: Config = figment.extract().map_err(|e| {
            let mut message = String::from("invalid configuration:");
            for error in e {
                message.push_str("\n  ");
                message.push_str(&error.to_string());
            }
            CliError::usage(message)
        })?;
        config.auth.jwt_secret = environment()
            .only(&[JWT_SECRET_KEY])
            .iter()
            .next()
            .map(|(_, value)| SecretString::from(value));
        config.smtp.password = environment()
            .only(&[SMTP_PASSWORD_KEY])
            .iter()
            .next()
            .map(|(_, value)| SecretString::from(value));
        read_client_secrets(&mut config.orgs);
        config.database_url.backend()?;
        config.sync.relay_config()?;
        for (slug, org) in &config.orgs {
            if let Some(dynamics) = &org.dynamics {
                dynamics.validate(slug)?;
            }
        }
        if config.database_max_connections == 0 {
            return Err(CliError::usage(
                "database_max_connections must be at least 1",
            ));
        }
        config.expiry_config()?;
        if config.scheduler.tick_seconds < Duration::from_secs(1) {
            return Err(CliError::usage("scheduler.tick_seconds must be at least 1"));
        }
        config.delivery_plan()?;
        config.dashboard.config()?;
        Ok(config)
    }

    /// What `serve` runs for email and alert delivery, from `[smtp]`, `[alerts]` and `[delivery]`.
    pub fn delivery_plan(&self) -> Result<DeliveryPlan, CliError> {
        delivery_plan(&self.smtp, &self.alerts, &self.delivery)
    }

    /// The engine's view of `[expiry]` and `[features]`, validated.
    pub fn expiry_config(&self) -> Result<ExpiryConfig, CliError> {
        let run_at = RunAt::parse(&self.expiry.run_at)
            .map_err(|e| CliError::usage(format!("expiry.{e}")))?;
        if !(1..=365).contains(&self.expiry.resume_notice_days) {
            return Err(CliError::usage(
                "expiry.resume_notice_days must be from 1 to 365",
            ));
        }
        if !(1..=16).contains(&self.expiry.parallel_orgs) {
            return Err(CliError::usage("expiry.parallel_orgs must be from 1 to 16"));
        }
        if !(1..=50_000).contains(&self.expiry.batch_size) {
            return Err(CliError::usage("expiry.batch_size must be from 1 to 50000"));
        }
        Ok(ExpiryConfig {
            thresholds: self.expiry.thresholds_days.clone(),
            per_org_thresholds: self.features.per_org_thresholds,
            run_at,
            resume_notice_days: self.expiry.resume_notice_days,
            batch_size: self.expiry.batch_size,
            instance: instance_name(),
            ..ExpiryConfig::default()
        })
    }

    /// The token signing secret; `serve` and `users token` cannot work without it.
    pub fn require_jwt_secret(&self) -> Result<&SecretString, CliError> {
        let secret = self.auth.jwt_secret.as_ref().ok_or_else(|| {
            CliError::usage(format!(
                "no token signing secret: set the environment variable {JWT_SECRET_ENV} \
                 to a random value of at least {MIN_JWT_SECRET_BYTES} bytes \
                 (for example: openssl rand -base64 48)"
            ))
        })?;
        let len = secret.expose_secret().len();
        if len < MIN_JWT_SECRET_BYTES {
            return Err(CliError::usage(format!(
                "{JWT_SECRET_ENV} is {len} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} bytes"
            )));
        }
        Ok(secret)
    }

    /// `message` with every secret this configuration holds masked, for anything shown to a person.
    pub fn redact(&self, message: &str) -> String {
        let mut redacted = message.to_owned();
        if let Some(password) = self.database_url.password() {
            redacted = redacted.replace(password, "***");
        }
        if let Some(secret) = &self.auth.jwt_secret {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                redacted = redacted.replace(secret, "***");
            }
        }
        if let Some(password) = &self.smtp.password {
            let password = password.expose_secret();
            if !password.is_empty() {
                redacted = redacted.replace(password, "***");
            }
        }
        let client_secrets = self
            .orgs
            .values()
            .filter_map(|org| org.dynamics.as_ref()?.client_secret.as_ref());
        for secret in client_secrets {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                redacted = redacted.replace(secret, "***");
            }
        }
        redacted
    }
}

/// Host and process id, to tell instances apart in the run log.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Which store implementation a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    /// The embedded default: one file, one process.
    Sqlite,
}

/// A database connection URL. It may carry a password, so `Debug` and `Display` mask it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The full URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn backend(&self) -> Result<Backend, CliError> {
        let scheme = self.0.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("postgres" | "postgresql") => Ok(Backend::Postgres),
            Some("sqlite") => Ok(Backend::Sqlite),
            _ => Err(CliError::usage(format!(
                "database_url {self} is neither a sqlite:// nor a postgres:// (postgresql://) URL. \
                 Set database_url in the configuration file or the environment variable \
                 {ENV_PREFIX}DATABASE_URL, e.g. {DEFAULT_DATABASE_URL}"
            ))),
        }
    }

    /// The password between `user:` and `@`, if the URL has one.
    fn password(&self) -> Option<&str> {
        let (_, rest) = self.0.split_once("://")?;
        let authority = rest.split(['/', '?']).next()?;
        let (credentials, _) = authority.rsplit_once('@')?;
        let (_, password) = credentials.split_once(':')?;
        Some(password).filter(|p| !p.is_empty())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.password() {
            Some(password) => f.write_str(&self.0.replacen(password, "***", 1)),
            None => f.write_str(&self.0),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> DatabaseUrl {
        DatabaseUrl(s.to_owned())
    }

    #[test]
    fn database_url_hides_its_password() {
        let with_password = url("postgres://app:s3cr%40t@db.example.org:5432/mentor_status");
        assert_eq!(
            with_password.to_string(),
            "postgres://app:***@db.example.org:5432/mentor_status"
        );
        assert!(!format!("{with_password:?}").contains("s3cr"));
        let without = url("postgres://postgres@127.0.0.1/mentor_status");
        assert_eq!(
            without.to_string(),
            "postgres://postgres@127.0.0.1/mentor_status"
        );
        // An `@` in the path is not a credentials separator.
        assert_eq!(url("postgres://h/db?options=a@b").password(), None);
    }

    #[test]
    fn the_url_scheme_selects_the_backend() {
        assert_eq!(url("postgres://h/db").backend().unwrap(), Backend::Postgres);
        assert_eq!(
            url("postgresql://h/db").backend().unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            url(DEFAULT_DATABASE_URL).backend().unwrap(),
            Backend::Sqlite
        );
        let mysql = url("mysql://h/db").backend().unwrap_err();
        assert_eq!(mysql.exit_code(), 2);
        assert!(mysql.to_string().contains("neither a sqlite://"), "{mysql}");
    }

    #[test]
    fn dashboard_sessions_are_configured_within_bounds() {
        let defaults = DashboardSection::default().config().unwrap();
        assert!(!defaults.secure_cookies && !defaults.trust_forwarded_for);
        assert_eq!(defaults.idle_timeout, chrono::Duration::hours(1));
        assert_eq!(defaults.absolute_timeout, chrono::Duration::hours(12));
        let idle = DashboardSection {
            session_idle_minutes: Duration::ZERO,
            ..DashboardSection::default()
        };
        assert!(
            idle.config()
                .unwrap_err()
                .to_string()
                .contains("session_idle_minutes")
        );
        let long = DashboardSection {
            session_hours: Duration::from_secs(169 * 3600),
            ..DashboardSection::default()
        };
        assert!(
            long.config()
                .unwrap_err()
                .to_string()
                .contains("session_hours")
        );
    }

    #[test]
    fn secrets_are_masked_in_messages_and_debug_output() {
        let config = Config {
            database_url: url("postgres://app:dbpass@h/db"),
            database_max_connections: 1,
            http: HttpConfig::default(),
            dashboard: DashboardSection::default(),
            auth: AuthConfig {
                jwt_secret: Some(SecretString::from("a-signing-secret-of-32-bytes-or-more")),
            },
            log: LogConfig::default(),
            expiry: ExpirySection::default(),
            features: FeaturesSection::default(),
            scheduler: SchedulerSection::default(),
            clock: ClockSection::default(),
            sync: SyncSection::default(),
            smtp: SmtpSection::default(),
            alerts: AlertsSection::default(),
            delivery: DeliverySection::default(),
            orgs: BTreeMap::from([("hlf".to_owned(), org_with_client_secret("dynamics-secret"))]),
        };
        let message = "failed: dbpass and a-signing-secret-of-32-bytes-or-more, dynamics-secret";
        assert_eq!(config.redact(message), "failed: *** and ***, ***");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("dbpass")
                && !debug.contains("a-signing-secret")
                && !debug.contains("dynamics-secret"),
            "{debug}"
        );
    }

    fn org_with_client_secret(secret: &str) -> OrgSection {
        let mut org: OrgSection = Figment::from(Toml::string(
            "[dynamics]\napi_base_url = \"https://hlf.crm4.dynamics.com\"\n\
             token_url = \"https://login.example/token\"\nclient_id = \"c\"\n\
             scope = \"https://hlf.crm4.dynamics.com/.default\"\nvisibility_field = \"v\"\n",
        ))
        .extract()
        .unwrap();
        if let Some(dynamics) = &mut org.dynamics {
            dynamics.client_secret = Some(SecretString::from(secret.to_owned()));
        }
        org
    }
}
