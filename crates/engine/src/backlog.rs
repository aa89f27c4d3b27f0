//! The backlog watch: an alert per organisation when its changes wait too long for the public
//! listing, or its emails for the SMTP server, resolved once they flow again. Without it an outage
//! of minutes or hours shows only in metrics; retries alone raise nothing until their budget (hours)
//! is spent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{NewAlert, Severity, Store};
use tokio_util::sync::CancellationToken;

use crate::sync::SyncAlert;
use crate::{Engine, EngineError};

/// The alert kind for emails waiting longer than the limit.
pub const EMAIL_BACKLOG_ALERT: &str = "email_backlog";

impl<S: Store> Engine<S> {
    /// Check the backlogs every `interval` until `cancel` fires. Safe in every instance: an alert is
    /// one row per dedupe key, counted again while it lasts.
    pub async fn run_backlog_watch(
        self,
        limit: Duration,
        interval: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            if let Err(error) = self.check_backlogs(limit).await {
                tracing::warn!(%error, "backlog check failed");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Open or resolve the backlog alerts: waiting longer than `limit` opens, none waiting that long
    /// resolves.
    pub async fn check_backlogs(&self, limit: Duration) -> Result<(), EngineError> {
        let overdue = |oldest: Option<DateTime<Utc>>, now: DateTime<Utc>| {
            oldest.filter(|at| (now - *at).to_std().is_ok_and(|age| age >= limit))
        };
        // Each queue is aged by the clock that stamped it: sync rows by the database's (which the
        // system clock follows), emails by the engine's (their notification's time) — the two
        // differ only under a rehearsal clock.
        let database_now = Utc::now();
        let orgs: Vec<_> = self
            .listing()
            .map(|l| l.integrations().map(|i| i.org).collect())
            .unwrap_or_default();
        for org in orgs {
            let status = self.store().sync_status(org, Duration::ZERO).await?;
            match overdue(status.oldest_pending_at, database_now) {
                Some(since) => {
                    self.open_sync_alert(
                        org,
                        SyncAlert::Backlog,
                        format!(
                            "{} change(s) wait to reach the public listing, the oldest since {}; \
                             {} mentor(s) are being retried (the sync status says why)",
                            status.pending,
                            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            status.retrying
                        ),
                    )
                    .await?
                }
                None => self.resolve_sync_alert(org, SyncAlert::Backlog).await?,
            }
        }
        for org in self.store().orgs().await? {
            let email = self.store().email_queue(org.id).await?;
            let key = format!("{EMAIL_BACKLOG_ALERT}:{}", org.id);
            match overdue(email.oldest_pending_at, self.clock().now()) {
                Some(since) => {
                    let opened = self
                        .store()
                        .open_alert(NewAlert {
                            org: Some(org.id),
                            kind: EMAIL_BACKLOG_ALERT.to_owned(),
                            severity: Severity::Warning,
                            dedupe_key: key,
                            summary: format!(
                                "{} email(s) wait to be sent, the oldest since {}; the SMTP server \
                                 does not take them (see the email queue metrics and the log)",
                                email.pending,
                                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                            ),
                            at: self.clock().now(),
                        })
                        .await?;
                    if opened.newly_opened {
                        tracing::error!(org = %org.slug, pending = email.pending, "emails are backing up; alert opened");
                    }
                }
                None => {
                    if self
                        .store()
                        .resolve_alert(&key, self.clock().now())
                        .await?
                        .is_some()
                    {
                        tracing::info!(org = %org.slug, "emails flow again; alert resolved");
                    }
                }
            }
        }
        Ok(())
    }
}
