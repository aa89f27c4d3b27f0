//! Emails over SMTP (lettre, pooled connections): claim due emails with a lease, render each in its
//! recipient's language, send, record. The Message-ID is made from the email's stable id, so a
//! message sent twice (the sender died after the server accepted it and before it was recorded) is
//! recognisably one message. A permanent refusal (5xx) is dead at once; transient failures retry
//! with backoff until the retry budget is spent; dead emails open an alert.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use store::{DeliveryClaim, DeliveryOutcome, DeliveryResult, EmailJob, NewAlert, Severity, Store};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::SenderConfig;
use super::pacer::Pacer;
use super::templates::{EmailContext, render};
use crate::{Engine, EngineError};

/// The alert kind for emails that could not be delivered.
pub const EMAIL_DEAD_ALERT: &str = "email_dead";

/// Where and how to send.
#[derive(Clone)]
pub struct MailerConfig {
    /// `smtps://host[:port]` (TLS from the start), `smtp://host[:port]?tls=required` (STARTTLS
    /// insisted on), `?tls=opportunistic` (STARTTLS when offered), or plain `smtp://host[:port]`
    /// (unencrypted: a local relay only); lettre's URL rules. A user name may be in the URL, never a
    /// password.
    pub url: String,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Likeperson <noreply@example.org>`.
    pub from: String,
    /// Connections kept open to the server, and emails sent at once.
    pub pool_size: u32,
    /// At most this many emails start per second (0: no limit).
    pub max_per_second: u32,
    pub timeout: Duration,
}

impl std::fmt::Debug for MailerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailerConfig")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .field("pool_size", &self.pool_size)
            .field("max_per_second", &self.max_per_second)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A configuration the mailer cannot work with, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("smtp.url is not a usable SMTP URL (smtp://host:port or smtps://host:port): {0}")]
    Url(String),
    #[error("smtp.url must not carry a password; set MENTOR_STATUS__SMTP__PASSWORD instead")]
    PasswordInUrl,
    #[error("smtp.from is not a mailbox (e.g. `Likeperson <noreply@example.org>`): {0}")]
    From(String),
    #[error("smtp.pool_size must be 1 or more")]
    PoolSize,
}

/// An SMTP client: a connection pool, the sender's mailbox, and the pace.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of Message-IDs: the sender's domain.
    id_domain: String,
    pool_size: u32,
    /// How long one send may take in all (lettre's own timeout covers only connecting).
    timeout: Duration,
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Check the configuration and set up the pool (no connection is made until the first email).
    pub fn new(config: MailerConfig) -> Result<Mailer, MailerError> {
        if config.pool_size == 0 {
            return Err(MailerError::PoolSize);
        }
        let url = reqwest::Url::parse(&config.url).map_err(|e| MailerError::Url(e.to_string()))?;
        if url.password().is_some() {
            return Err(MailerError::PasswordInUrl);
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailerError::From(e.to_string()))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| MailerError::Url(e.to_string()))?
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.pool_size));
        if let Some(password) = &config.password {
            builder = builder.credentials(Credentials::new(
                url.username().to_owned(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            id_domain: from.email.domain().to_owned(),
            from,
            pool_size: config.pool_size,
            timeout: config.timeout,
            pacer: Arc::new(Pacer::new(config.max_per_second)),
        })
    }

    /// The Message-ID of the email with this stable id.
    pub fn message_id(&self, id: Uuid) -> String {
        format!("<{id}@{}>", self.id_domain)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailPassReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Drains the email outbox.
#[derive(Debug, Clone)]
pub struct EmailSender<S> {
    engine: Engine<S>,
    mailer: Mailer,
    config: SenderConfig,
    owner: Uuid,
}

impl<S: Store> EmailSender<S> {
    pub fn new(engine: Engine<S>, mailer: Mailer, config: SenderConfig) -> Self {
        EmailSender {
            engine,
            mailer,
            config,
            owner: Uuid::new_v4(),
        }
    }

    /// Send until cancelled: passes back to back while there is work, polling when idle.
    pub async fn run(self, cancel: CancellationToken) {
        self.config
            .run_passes("email", cancel, || async { Ok(self.pass().await?.claimed) })
            .await;
    }

    /// Claim one batch, send it, record the outcomes.
    pub async fn pass(&self) -> Result<EmailPassReport, EngineError> {
        let store = self.engine.store();
        let jobs = store
            .claim_emails(DeliveryClaim {
                owner: self.owner,
                limit: self.config.batch_size,
                lease: self.config.lease,
            })
            .await?;
        let mut report = EmailPassReport {
            claimed: jobs.len(),
            ..EmailPassReport::default()
        };
        if jobs.is_empty() {
            return Ok(report);
        }
        let results: Vec<(EmailJob, DeliveryResult)> = futures::stream::iter(jobs)
            .map(|job| async move {
                let outcome = self.deliver(&job).await;
                let result = DeliveryResult {
                    id: job.id,
                    outcome,
                };
                (job, result)
            })
            .buffer_unordered(self.mailer.pool_size as usize)
            .collect()
            .await;
        let mut dead = Vec::new();
        for (job, result) in &results {
            match &result.outcome {
                DeliveryOutcome::Delivered => report.sent += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Dead { error } => {
                    report.dead += 1;
                    dead.push((job, error.clone()));
                }
            }
        }
        store
            .record_email_results(self.owner, results.iter().map(|(_, r)| r.clone()).collect())
            .await?;
        crate::metrics::emails(report.sent, report.retried, report.dead);
        for (job, error) in dead {
            self.open_dead_alert(job, &error).await?;
        }
        Ok(report)
    }

    async fn deliver(&self, job: &EmailJob) -> DeliveryOutcome {
        let message = match self.message(job) {
            Ok(message) => message,
            Err(error) => return DeliveryOutcome::Dead { error },
        };
        self.mailer.pacer.wait().await;
        let sent = tokio::time::timeout(self.mailer.timeout, self.mailer.transport.send(message));
        match sent.await {
            Ok(Ok(_)) => DeliveryOutcome::Delivered,
            Ok(Err(e)) if e.is_permanent() => DeliveryOutcome::Dead {
                error: format!("refused by the mail server: {e}"),
            },
            Ok(Err(e)) => self.retry_or_give_up(job, format!("{e}")),
            Err(_) => self.retry_or_give_up(
                job,
                format!(
                    "the mail server did not answer within {} s",
                    self.mailer.timeout.as_secs()
                ),
            ),
        }
    }

    /// The rendered message, or why it cannot be made (never worth retrying).
    fn message(&self, job: &EmailJob) -> Result<Message, String> {
        let rendered = render(&EmailContext {
            org_name: job
                .org
                .as_ref()
                .map_or("mentor-status", |o| o.name.as_str()),
            recipient_name: job.recipient_name.as_deref(),
            locale: job.locale,
            kind: &job.kind,
            payload: &job.payload,
        })
        .map_err(|e| format!("cannot render the email: {e}"))?;
        let to: Mailbox = job
            .to
            .as_str()
            .parse()
            .map_err(|e| format!("not a deliverable address: {e}"))?;
        let to = match &job.recipient_name {
            Some(name) => Mailbox::new(Some(name.clone()), to.email),
            None => to,
        };
        Message::builder()
            .from(self.mailer.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(self.mailer.message_id(job.id)))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| format!("cannot build the email: {e}"))
    }

    fn retry_or_give_up(&self, job: &EmailJob, error: String) -> DeliveryOutcome {
        self.config
            .after_transient_failure(job.attempts, job.first_failed_at, error)
    }

    async fn open_dead_alert(&self, job: &EmailJob, error: &str) -> Result<(), EngineError> {
        let org = job.org.as_ref().map(|o| o.id);
        let scope = org.map_or_else(|| "deployment".to_owned(), |o| o.to_string());
        self.engine
            .raise_alert(NewAlert {
                org,
                kind: EMAIL_DEAD_ALERT.to_owned(),
                severity: Severity::Warning,
                dedupe_key: format!("{EMAIL_DEAD_ALERT}:{scope}"),
                summary: format!("An email ({}) could not be delivered: {error}", job.kind),
                at: self.engine.clock().now(),
            })
            .await?;
        Ok(())
    }
}
