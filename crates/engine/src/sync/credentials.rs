//! Credential health: a fresh token plus `WhoAmI`, recorded, and the credentials alert opened on the
//! first refusal (not after N) and resolved by the first success.

use dataverse::{DataverseError, WhoAmI};
use std::time::Duration;

use store::{CredentialCheck, Store};
use tokio_util::sync::CancellationToken;

use super::Integration;
use super::alerts::SyncAlert;
use crate::{Engine, EngineError};

impl<S: Store> Engine<S> {
    /// Check the integration's credentials every `interval` (the first check at once) until
    /// `cancel` fires.
    pub async fn run_credential_checks(
        self,
        integration: std::sync::Arc<Integration>,
        interval: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            if let Err(error) = self.check_credentials(&integration).await {
                tracing::warn!(org = %integration.org, %error, "credential check could not be recorded");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Check the integration's credentials now. The outer error is the store's; the inner result is
    /// what Dynamics said.
    pub async fn check_credentials(
        &self,
        integration: &Integration,
    ) -> Result<Result<WhoAmI, DataverseError>, EngineError> {
        let result = integration.client.check_credentials().await;
        let detail = match &result {
            Ok(who) => format!("authenticated as application user {}", who.user_id),
            Err(error) => error.to_string(),
        };
        match &result {
            Ok(_) => {
                self.record_check(integration, true, detail).await?;
                self.resolve_sync_alert(integration.org, SyncAlert::Credentials)
                    .await?
            }
            Err(
                error @ (DataverseError::Unauthorized { .. } | DataverseError::Forbidden { .. }),
            ) => {
                let status = match error {
                    DataverseError::Forbidden { .. } => "403",
                    _ => "401",
                };
                let org = self.org_label(integration.org).await;
                metrics::counter!(
                    crate::metrics::SYNC_CREDENTIAL_FAILURES,
                    "org" => org,
                    "status" => status
                )
                .increment(1);
                self.credentials_refused(integration, &detail).await?
            }
            // Dynamics unreachable or throttling says nothing about the credentials; pushes retry and
            // the queue's age shows the outage.
            Err(error) => {
                if matches!(error, DataverseError::Throttled { .. }) {
                    let org = self.org_label(integration.org).await;
                    metrics::counter!(crate::metrics::SYNC_THROTTLED, "org" => org).increment(1);
                }
                tracing::warn!(org = %integration.org, %detail, "credential check inconclusive");
                self.record_check(integration, false, detail).await?
            }
        }
        Ok(result)
    }

    /// Dynamics refused the credentials: open the alert at once.
    pub(crate) async fn credentials_refused(
        &self,
        integration: &Integration,
        detail: &str,
    ) -> Result<(), EngineError> {
        self.record_check(integration, false, detail.to_owned())
            .await?;
        self.open_sync_alert(
            integration.org,
            SyncAlert::Credentials,
            format!(
                "Dynamics refused the integration's credentials; nothing is pushed to the public \
                 listing until they work again ({detail})"
            ),
        )
        .await
    }

    async fn record_check(
        &self,
        integration: &Integration,
        ok: bool,
        detail: String,
    ) -> Result<(), EngineError> {
        Ok(self
            .store()
            .record_credential_check(
                integration.org,
                CredentialCheck {
                    checked_at: self.clock().now(),
                    ok,
                    detail: Some(detail),
                },
            )
            .await?)
    }
}
