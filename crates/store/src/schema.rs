//! The database itself: its schema and whether it answers.

use std::future::Future;

use crate::{SchemaStatus, StoreResult};

/// The database itself: its schema and whether it answers.
pub trait SchemaStore: Clone + Send + Sync + 'static {
    /// Apply pending migrations.
    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many migrations this build knows and how many the database has applied.
    fn schema_status(&self) -> impl Future<Output = StoreResult<SchemaStatus>> + Send;
    /// A round trip to the database.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
}
