//! The sync's alerts: one open alert per organisation and kind of incident (the dedupe key), counted
//! again while it lasts, resolved when the cause is gone.

use domain::OrgId;
use store::{NewAlert, Severity, Store};

use crate::{Engine, EngineError};

/// The kinds of sync incident, each one alert per organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncAlert {
    /// Token or WhoAmI refused: nothing is pushed until credentials work again.
    Credentials,
    /// Mentors whose rows went dead (permanent refusal, or retry budget spent).
    DeadLetters,
    /// A linked mentor's remote record does not exist.
    RecordNotFound,
}

impl SyncAlert {
    fn kind(self) -> &'static str {
        match self {
            SyncAlert::Credentials => "sync_credentials",
            SyncAlert::DeadLetters => "sync_dead_letters",
            SyncAlert::RecordNotFound => "sync_record_not_found",
        }
    }

    fn severity(self) -> Severity {
        match self {
            SyncAlert::Credentials => Severity::Critical,
            SyncAlert::DeadLetters | SyncAlert::RecordNotFound => Severity::Warning,
        }
    }

    pub(crate) fn dedupe_key(self, org: OrgId) -> String {
        format!("{}:{org}", self.kind())
    }
}

impl<S: Store> Engine<S> {
    pub(crate) async fn open_sync_alert(
        &self,
        org: OrgId,
        alert: SyncAlert,
        summary: String,
    ) -> Result<(), EngineError> {
        self.raise_alert(NewAlert {
            org: Some(org),
            kind: alert.kind().to_owned(),
            severity: alert.severity(),
            dedupe_key: alert.dedupe_key(org),
            summary,
            at: self.clock().now(),
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn resolve_sync_alert(
        &self,
        org: OrgId,
        alert: SyncAlert,
    ) -> Result<(), EngineError> {
        if self
            .store()
            .resolve_alert(&alert.dedupe_key(org), self.clock().now())
            .await?
            .is_some()
        {
            tracing::info!(%org, kind = alert.kind(), "alert resolved");
        }
        Ok(())
    }
}
