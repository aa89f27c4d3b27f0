//! Whether the database answers and holds the schema this build expects, for readiness checks.

use store::{SchemaStatus, SchemaStore};

use crate::{Engine, EngineError};

impl<S: SchemaStore> Engine<S> {
    /// A round trip to the database.
    pub async fn ping_database(&self) -> Result<(), EngineError> {
        Ok(self.store().ping().await?)
    }

    /// How many migrations this build knows and how many the database has applied.
    pub async fn schema_status(&self) -> Result<SchemaStatus, EngineError> {
        Ok(self.store().schema_status().await?)
    }
}
