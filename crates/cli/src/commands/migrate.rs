//! `mentor-status migrate`: bring the database schema up to this build's.

use serde_json::json;
use store::Store;

use super::{Outcome, store_failed};
use crate::error::CliError;

pub async fn run<S: Store>(store: &S) -> Result<Outcome, CliError> {
    let before = store
        .schema_status()
        .await
        .map_err(|e| store_failed("cannot read the database schema version", e))?;
    store
        .migrate()
        .await
        .map_err(|e| store_failed("migration failed", e))?;
    let after = store
        .schema_status()
        .await
        .map_err(|e| store_failed("cannot read the database schema version", e))?;
    let newly_applied = after.applied.saturating_sub(before.applied);
    let human = if newly_applied == 0 {
        format!(
            "the database schema is already current ({} migrations)",
            after.known
        )
    } else {
        format!(
            "applied {newly_applied} migration(s); the database schema is current ({} migrations)",
            after.known
        )
    };
    Ok(Outcome::report(
        human,
        json!({ "applied_now": newly_applied, "applied": after.applied, "known": after.known }),
    ))
}
