//! `[smtp]`, `[alerts]` and `[delivery]`: where emails go, where the operations team hears about
//! alerts, and how senders retry. The SMTP password comes only from the environment
//! (`MENTOR_STATUS__SMTP__PASSWORD`).

use std::time::Duration;

use domain::{Email, Locale};
use engine::delivery::{Mailer, MailerConfig, SenderConfig};
use secrecy::SecretString;
use serde::Deserialize;

use crate::duration;
use crate::error::CliError;

/// The environment variable that carries the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "MENTOR_STATUS__SMTP__PASSWORD";
/// The figment key of the SMTP password.
pub const SMTP_PASSWORD_KEY: &str = "smtp.password";

/// `[smtp]`: the mail server. Without `url`, nothing is emailed (notifications stay in-app).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// `smtps://host:port`, or `smtp://host:port` with `?tls=required` (STARTTLS),
    /// `?tls=opportunistic`, or nothing (unencrypted).
    #[serde(default)]
    pub url: Option<String>,
    /// The sender: `Likeperson <noreply@example.org>`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// At most this many emails start per second (0: no limit).
    #[serde(default = "default_max_per_second")]
    pub max_per_second: u32,
    #[serde(default = "default_timeout", deserialize_with = "duration::seconds")]
    pub timeout_seconds: Duration,
    /// Read from [`SMTP_PASSWORD_ENV`] only: `Config::load` fills it in.
    #[serde(skip)]
    pub password: Option<SecretString>,
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            url: None,
            from: None,
            pool_size: default_pool_size(),
            max_per_second: default_max_per_second(),
            timeout_seconds: default_timeout(),
            password: None,
        }
    }
}

/// `[alerts]`: the operations team's channels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// An incoming webhook (Slack, Teams, …) that receives a JSON POST per alert event.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// An address that receives an email per alert event (needs `[smtp]`).
    #[serde(default)]
    pub email: Option<String>,
    /// The language of those emails.
    #[serde(default)]
    pub locale: Locale,
    /// An open alert is told again this long (hours) after its last notice.
    #[serde(default = "default_remind", deserialize_with = "duration::hours")]
    pub remind_hours: Duration,
    /// Between looks for alert events to deliver (and at the backlogs).
    #[serde(default = "default_alert_tick", deserialize_with = "duration::seconds")]
    pub tick_seconds: Duration,
    /// Changes waiting this long for the public listing, or emails for the SMTP server, open a
    /// backlog alert; fractions of minutes allowed (at least a second).
    #[serde(
        default = "default_backlog",
        deserialize_with = "duration::fractional_minutes"
    )]
    pub backlog_minutes: Duration,
}

impl Default for AlertsSection {
    fn default() -> Self {
        AlertsSection {
            webhook_url: None,
            email: None,
            locale: Locale::default(),
            remind_hours: default_remind(),
            tick_seconds: default_alert_tick(),
            backlog_minutes: default_backlog(),
        }
    }
}

/// `[delivery]`: how the email and webhook senders pace and retry. Durations are numbers in the
/// key's unit or durations such as `"2m"` (see `duration`); a key left out takes the engine's
/// default ([`SenderConfig`]'s).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySection {
    pub batch_size: u32,
    #[serde(deserialize_with = "duration::seconds")]
    pub lease_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub poll_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub backoff_initial_seconds: Duration,
    #[serde(deserialize_with = "duration::seconds")]
    pub backoff_max_seconds: Duration,
    /// How long transient failures are retried, from the first, before an item is dead.
    #[serde(deserialize_with = "duration::hours")]
    pub retry_budget_hours: Duration,
}

impl Default for DeliverySection {
    fn default() -> Self {
        let sender = SenderConfig::default();
        DeliverySection {
            batch_size: sender.batch_size,
            lease_seconds: sender.lease,
            poll_seconds: sender.poll,
            backoff_initial_seconds: sender.backoff_initial,
            backoff_max_seconds: sender.backoff_max,
            retry_budget_hours: sender.retry_budget,
        }
    }
}

/// What `serve` runs for delivery, validated.
#[derive(Debug)]
pub struct DeliveryPlan {
    pub mailer: Option<Mailer>,
    pub webhook_url: Option<reqwest::Url>,
    pub alert_email: Option<(Email, Locale)>,
    pub remind_after: chrono::Duration,
    pub alert_tick: Duration,
    pub backlog_limit: Duration,
    pub sender: SenderConfig,
}

/// Check the three sections together and build what `serve` needs; every refusal names the setting.
pub fn delivery_plan(
    smtp: &SmtpSection,
    alerts: &AlertsSection,
    delivery: &DeliverySection,
) -> Result<DeliveryPlan, CliError> {
    let mailer = match (&smtp.url, &smtp.from) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(CliError::usage(
                "smtp.from is set but smtp.url is not: set smtp.url to the mail server \
                 (smtp://host:port), or remove [smtp]",
            ));
        }
        (Some(_), None) => {
            return Err(CliError::usage(
                "smtp.from is required when smtp.url is set: the sender's address, \
                 e.g. from = \"Likeperson <noreply@example.org>\"",
            ));
        }
        (Some(url), Some(from)) => Some(
            Mailer::new(MailerConfig {
                url: url.clone(),
                password: smtp.password.clone(),
                from: from.clone(),
                pool_size: smtp.pool_size,
                max_per_second: smtp.max_per_second,
                timeout: smtp.timeout_seconds.max(Duration::from_secs(1)),
            })
            .map_err(|e| CliError::usage(e.to_string()))?,
        ),
    };
    let webhook_url = alerts
        .webhook_url
        .as_deref()
        .map(|url| {
            reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    CliError::usage("alerts.webhook_url is not an http:// or https:// URL")
                })
        })
        .transpose()?;
    let alert_email = match &alerts.email {
        None => None,
        Some(_) if mailer.is_none() => {
            return Err(CliError::usage(
                "alerts.email needs a mail server: set smtp.url and smtp.from",
            ));
        }
        Some(address) => Some((
            Email::parse(address)
                .map_err(|e| CliError::usage(format!("alerts.email is not an address: {e}")))?,
            alerts.locale,
        )),
    };
    const SECOND: Duration = Duration::from_secs(1);
    const HOUR: Duration = Duration::from_secs(3600);
    const WEEK: Duration = Duration::from_secs(7 * 86_400);
    if !(SECOND..=WEEK).contains(&alerts.backlog_minutes) {
        return Err(CliError::usage(
            "alerts.backlog_minutes must be from 0.0167 (one second) to 10080 (a week)",
        ));
    }
    let backlog_limit = alerts.backlog_minutes;
    if !(HOUR..=WEEK).contains(&alerts.remind_hours) {
        return Err(CliError::usage(
            "alerts.remind_hours must be from 1 to 168 (a week)",
        ));
    }
    if alerts.tick_seconds < SECOND {
        return Err(CliError::usage("alerts.tick_seconds must be at least 1"));
    }
    if delivery.batch_size == 0 || delivery.poll_seconds < SECOND || delivery.lease_seconds < SECOND
    {
        return Err(CliError::usage(
            "delivery.batch_size, delivery.poll_seconds and delivery.lease_seconds must be at least 1",
        ));
    }
    Ok(DeliveryPlan {
        mailer,
        webhook_url,
        alert_email,
        remind_after: chrono::Duration::from_std(alerts.remind_hours)
            .expect("at most a week, checked above"),
        alert_tick: alerts.tick_seconds,
        backlog_limit,
        sender: SenderConfig {
            batch_size: delivery.batch_size,
            lease: delivery.lease_seconds,
            poll: delivery.poll_seconds,
            backoff_initial: delivery.backoff_initial_seconds,
            backoff_max: delivery.backoff_max_seconds,
            retry_budget: delivery.retry_budget_hours,
        },
    })
}

fn default_pool_size() -> u32 {
    16
}

fn default_max_per_second() -> u32 {
    500
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_remind() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_backlog() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_alert_tick() -> Duration {
    Duration::from_secs(5)
}
