//! Whether an organisation or a mentor exists, asked inside write transactions before writing rows
//! that refer to them: SQLite's foreign-key failure does not say which reference is missing.

use domain::{MentorId, OrgId};
use sqlx::SqliteExecutor;
use store::StoreResult;

use crate::error::db_err;

/// Whether `org` exists; asked inside write transactions, because SQLite's foreign-key failure does
/// not say which reference is missing.
pub(crate) async fn org_exists<'c>(conn: impl SqliteExecutor<'c>, org: OrgId) -> StoreResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM organisations WHERE id = ?")
        .bind(org.0)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

/// Whether `mentor` is a mentor of `org`. SQLite's foreign-key failure does not say which reference
/// is missing, so writes ask first; reads ask to tell "not your mentor" from "nothing there".
pub(crate) async fn mentor_exists<'c>(
    conn: impl SqliteExecutor<'c>,
    org: OrgId,
    mentor: MentorId,
) -> StoreResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM mentors WHERE id = ? AND org_id = ?")
            .bind(mentor.0)
            .bind(org.0)
            .fetch_optional(conn)
            .await
            .map_err(db_err)?;
    Ok(found.is_some())
}
