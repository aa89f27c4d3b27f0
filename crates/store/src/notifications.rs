//! In-app notifications.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::NotificationId;

use crate::{Notification, Page, StoreResult, User};

/// In-app notifications.
pub trait NotificationStore: Clone + Send + Sync + 'static {
    /// In-app notifications for `user` (addressed to them, or to the mentor they log in as), newest first.
    fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> impl Future<Output = StoreResult<Page<Notification, NotificationId>>> + Send;
    /// Mark one of `user`'s notifications read (once; later calls keep the first time).
    fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Notification>> + Send;
}
