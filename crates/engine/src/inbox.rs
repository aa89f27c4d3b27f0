//! A login's in-app notifications: listed newest first, and marked read.

use domain::NotificationId;
use store::{Notification, NotificationStore, Page, User};

use crate::{Engine, EngineError};

impl<S: NotificationStore> Engine<S> {
    /// `user`'s notifications (addressed to them, or to the mentor they sign in as), newest first,
    /// `limit` at most, older than `before`.
    pub async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> Result<Page<Notification, NotificationId>, EngineError> {
        Ok(self
            .store()
            .notifications(user, unread_only, limit, before)
            .await?)
    }

    /// Marks one of `user`'s notifications read now (a second time keeps the first time).
    pub async fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
    ) -> Result<Notification, EngineError> {
        let at = self.clock().now();
        Ok(self.store().mark_notification_read(user, id, at).await?)
    }
}
