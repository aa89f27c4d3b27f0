//! The one way the engine opens an alert: the summary loses every email address first (mail servers
//! and Dynamics quote them in their errors, and alerts reach a chat channel and many inboxes), and
//! an alert that is new is logged once.

use store::{AlertOpened, AlertStore, NewAlert};

use crate::{Engine, EngineError};

impl<S: AlertStore> Engine<S> {
    /// Opens `alert` (or counts it again when one with its dedupe key is open).
    pub(crate) async fn raise_alert(
        &self,
        mut alert: NewAlert,
    ) -> Result<AlertOpened, EngineError> {
        alert.summary = domain::redact::email_addresses(&alert.summary);
        let (kind, org, summary) = (alert.kind.clone(), alert.org, alert.summary.clone());
        let opened = self.store().open_alert(alert).await?;
        if opened.newly_opened {
            tracing::error!(kind, org = ?org, %summary, "alert opened");
        }
        Ok(opened)
    }
}
