//! The backlog watch: an alert per organisation when its changes wait too long for the public
//! listing, or its emails for the SMTP server, resolved once they flow again. Without it an outage
//! of minutes or hours shows only in metrics; retries alone raise nothing until their budget (hours)
//! is spent.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use store::{NewAlert, Org, Severity, Store};
use tokio_util::sync::CancellationToken;

use crate::{Engine, EngineError};

/// The alert kind for changes waiting longer than the limit for the public listing.
pub const SYNC_BACKLOG_ALERT: &str = "sync_backlog";
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

    /// Open or resolve each organisation's backlog alerts: waiting longer than `limit` opens, none
    /// waiting that long resolves.
    pub async fn check_backlogs(&self, limit: Duration) -> Result<(), EngineError> {
        let overdue = |oldest: Option<DateTime<Utc>>, now: DateTime<Utc>| {
            oldest.filter(|at| (now - *at).to_std().is_ok_and(|age| age >= limit))
        };
        let since = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        for org in self.store().orgs().await? {
            // Each queue is aged by the clock that stamped it: sync rows by the database's (which
            // the system clock follows), emails by the engine's (their notification's time) — the
            // two differ only under a rehearsal clock.
            if self.sync_enabled(org.id) {
                let sync = self.store().sync_status(org.id, Duration::ZERO).await?;
                let summary = overdue(sync.oldest_pending_at, Utc::now()).map(|oldest| {
                    format!(
                        "{} change(s) wait to reach the public listing, the oldest since {}; {} \
                         mentor(s) are being retried (the sync status says why)",
                        sync.pending,
                        since(oldest),
                        sync.retrying
                    )
                });
                self.backlog_alert(&org, SYNC_BACKLOG_ALERT, summary)
                    .await?;
            }
            let email = self.store().email_queue(org.id).await?;
            let summary = overdue(email.oldest_pending_at, self.clock().now()).map(|oldest| {
                format!(
                    "{} email(s) wait to be sent, the oldest since {}; the SMTP server does not \
                     take them (see the email queue metrics and the log)",
                    email.pending,
                    since(oldest)
                )
            });
            self.backlog_alert(&org, EMAIL_BACKLOG_ALERT, summary)
                .await?;
        }
        Ok(())
    }

    /// Opens (or counts again) the organisation's alert of `kind` with `summary`, or resolves it
    /// when there is none.
    async fn backlog_alert(
        &self,
        org: &Org,
        kind: &str,
        summary: Option<String>,
    ) -> Result<(), EngineError> {
        let dedupe_key = format!("{kind}:{}", org.id);
        let at = self.clock().now();
        match summary {
            Some(summary) => {
                self.raise_alert(NewAlert {
                    org: Some(org.id),
                    kind: kind.to_owned(),
                    severity: Severity::Warning,
                    dedupe_key,
                    summary,
                    at,
                })
                .await?;
            }
            None => {
                if self.store().resolve_alert(&dedupe_key, at).await?.is_some() {
                    tracing::info!(org = %org.slug, kind, "alert resolved");
                }
            }
        }
        Ok(())
    }
}
