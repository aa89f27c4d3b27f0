//! Alerts for the operations team: opened once per cause, resolved, acknowledged.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::{OrgId, UserId};
use uuid::Uuid;

use crate::{AlertOpened, AlertRecord, NewAlert, Page, StoreResult};

/// Alerts for the operations team: opened once per cause, resolved, acknowledged.
pub trait AlertStore: Clone + Send + Sync + 'static {
    /// Open an alert, or count again the open one with the same dedupe key.
    fn open_alert(&self, alert: NewAlert) -> impl Future<Output = StoreResult<AlertOpened>> + Send;
    /// Resolve the open alert with this dedupe key; `None` when none was open.
    fn resolve_alert(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<AlertRecord>>> + Send;
    /// Alerts of `org`, newest first.
    fn alerts(
        &self,
        org: OrgId,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> impl Future<Output = StoreResult<Page<AlertRecord, Uuid>>> + Send;
    fn acknowledge_alert(
        &self,
        org: OrgId,
        id: Uuid,
        user: UserId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<AlertRecord>> + Send;
}
