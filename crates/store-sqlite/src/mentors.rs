//! Registering mentors, changing their details, and reading them one at a time or as a filtered list.

use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::{Email, FullName, MentorId, OrgId, Phone};
use sqlx::{QueryBuilder, Sqlite};
use store::{
    Actor, MentorCursor, MentorFilter, MentorPatch, MentorRecord, NewMentor, Page, StoreError,
    StoreResult,
};

use crate::appends::{HistoryEntry, enqueue_sync, insert_certification, insert_history};
use crate::db::Db;
use crate::error::{bad_column, db_err};
use crate::exists::org_exists;
use crate::rows::{MENTOR_SELECT, MentorRow};
use crate::time::Ts;
use store::HistoryRecord;

/// What the history says about a mentor's first status.
const REGISTERED: &str = "registered";

/// The last date SQLite's `YYYY-MM-DD` text can hold: chrono writes later years with a sign and more
/// digits, which would sort before every ordinary date.
const LAST_STORABLE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(date) => date,
    None => NaiveDate::MAX,
};

/// A name as the case-insensitive search compares it (Unicode, unlike SQLite's `lower()`).
fn fold_case(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) async fn create_mentors(
    db: &Db,
    org: OrgId,
    actor: Actor,
    mentors: Vec<NewMentor>,
    at: DateTime<Utc>,
) -> StoreResult<Vec<MentorId>> {
    if mentors.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin().await?;
    if !org_exists(&mut *tx, org).await? {
        return Err(StoreError::not_found("organisation"));
    }
    for mentor in &mentors {
        sqlx::query(
            "INSERT INTO mentors (id, org_id, full_name, full_name_lower, email, phone, status, \
                                  status_changed_at, listed_publicly, dynamics_contact_id, dynamics_key, \
                                  version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(mentor.id.0)
        .bind(org.0)
        .bind(mentor.full_name.as_str())
        .bind(fold_case(mentor.full_name.as_str()))
        .bind(mentor.email.as_str())
        .bind(mentor.phone.as_ref().map(Phone::as_str))
        .bind(mentor.status.as_str())
        .bind(Ts(at))
        .bind(mentor.listed_publicly)
        .bind(mentor.dynamics_contact_id)
        .bind(mentor.dynamics_key.as_deref())
        .bind(Ts(at))
        .bind(Ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // The certifications trigger sets `current_expires_on`.
        if let Some(certification) = &mentor.certification {
            insert_certification(&mut tx, mentor.id, certification, at).await?;
        }
        let registration = HistoryEntry {
            mentor: mentor.id,
            from: None,
            to: mentor.status,
            reason: Some(REGISTERED),
            actor,
            idempotency_key: None,
            run: None,
            certification_expires_on: None,
        };
        insert_history(&mut tx, org, &registration, at).await?;
        enqueue_sync(&mut tx, org, mentor.id, 1).await?;
    }
    db.commit_queued(tx).await?;
    Ok(mentors.into_iter().map(|m| m.id).collect())
}

pub(crate) async fn existing_mentor_emails(
    db: &Db,
    org: OrgId,
    emails: Vec<Email>,
) -> StoreResult<Vec<Email>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    // The wanted emails as one JSON array, so any number of them is one statement.
    let wanted = serde_json::Value::from(emails.iter().map(Email::as_str).collect::<Vec<_>>());
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM mentors \
         WHERE org_id = ? AND email IN (SELECT value FROM json_each(?)) ORDER BY email",
    )
    .bind(org.0)
    .bind(wanted.to_string())
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    found
        .iter()
        .map(|e| Email::parse(e).map_err(|_| bad_column("mentors.email")))
        .collect()
}

pub(crate) async fn mentor(db: &Db, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
    // Scoped by organisation: another organisation's mentor is "not found", never "forbidden".
    let row: Option<MentorRow> =
        sqlx::query_as(&format!("{MENTOR_SELECT} WHERE m.org_id = ? AND m.id = ?"))
            .bind(org.0)
            .bind(id.0)
            .fetch_optional(&db.read)
            .await
            .map_err(db_err)?;
    row.ok_or(StoreError::not_found("mentor"))?.try_into()
}

pub(crate) async fn list_mentors(
    db: &Db,
    org: OrgId,
    filter: MentorFilter,
    today: NaiveDate,
    limit: u32,
    cursor: Option<MentorCursor>,
) -> StoreResult<Page<MentorRecord, MentorCursor>> {
    let mut query = QueryBuilder::<Sqlite>::new(MENTOR_SELECT);
    query.push("WHERE m.org_id = ").push_bind(org.0);
    if let Some(status) = filter.status {
        query.push(" AND m.status = ").push_bind(status.as_str());
    }
    if let Some(days) = filter.expiring_within_days {
        // Calendar days, both ends inclusive; a window past the end of the calendar is open-ended.
        // `current_expires_on` is the current certification's `expires_on` (kept by triggers) and
        // indexed.
        let last = today
            .checked_add_days(Days::new(days.into()))
            .map_or(LAST_STORABLE_DATE, |last| last.min(LAST_STORABLE_DATE));
        query
            .push(" AND m.current_expires_on BETWEEN ")
            .push_bind(today)
            .push(" AND ")
            .push_bind(last);
    }
    if let Some(q) = filter.query.as_deref() {
        // instr() is a plain substring test: `%`, `_` and `\` in `q` match themselves. Emails are
        // stored lower-cased by the domain.
        let needle = fold_case(q);
        query
            .push(" AND (instr(m.full_name_lower, ")
            .push_bind(needle.clone())
            .push(") > 0 OR instr(m.email, ")
            .push_bind(needle)
            .push(") > 0)");
    }
    if let Some(after) = cursor {
        query
            .push(" AND (m.full_name, m.id) > (")
            .push_bind(after.full_name)
            .push(", ")
            .push_bind(after.id.0)
            .push(")");
    }
    query
        .push(" ORDER BY m.full_name, m.id LIMIT ")
        .push_bind(store::page_fetch_limit(limit));
    let rows: Vec<MentorRow> = query
        .build_query_as()
        .fetch_all(&db.read)
        .await
        .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(MentorRecord::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(records, limit, |m| MentorCursor {
        full_name: m.full_name.clone(),
        id: m.id,
    }))
}

pub(crate) async fn update_mentor(
    db: &Db,
    org: OrgId,
    id: MentorId,
    patch: MentorPatch,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut query =
        QueryBuilder::<Sqlite>::new("UPDATE mentors SET version = version + 1, updated_at = ");
    query.push_bind(Ts(at));
    if let Some(name) = patch.full_name {
        query
            .push(", full_name_lower = ")
            .push_bind(fold_case(name.as_str()))
            .push(", full_name = ")
            .push_bind(FullName::into_inner(name));
    }
    if let Some(email) = patch.email {
        query.push(", email = ").push_bind(email.into_inner());
    }
    if let Some(phone) = patch.phone {
        query
            .push(", phone = ")
            .push_bind(phone.map(Phone::into_inner));
    }
    if let Some(listed) = patch.listed_publicly {
        query.push(", listed_publicly = ").push_bind(listed);
    }
    if let Some(contact_id) = patch.dynamics_contact_id {
        query.push(", dynamics_contact_id = ").push_bind(contact_id);
    }
    if let Some(key) = patch.dynamics_key {
        query.push(", dynamics_key = ").push_bind(key);
    }
    query
        .push(" WHERE org_id = ")
        .push_bind(org.0)
        .push(" AND id = ")
        .push_bind(id.0)
        .push(" RETURNING version");

    let mut tx = db.begin().await?;
    let version: Option<i64> = query
        .build_query_scalar()
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let version = version.ok_or(StoreError::not_found("mentor"))?;
    enqueue_sync(&mut tx, org, id, version).await?;
    db.commit_queued(tx).await
}

impl store::MentorStore for crate::SqliteStore {
    async fn create_mentors(
        &self,
        org: OrgId,
        actor: Actor,
        mentors: Vec<NewMentor>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<MentorId>> {
        create_mentors(&self.db, org, actor, mentors, at).await
    }
    async fn existing_mentor_emails(
        &self,
        org: OrgId,
        emails: Vec<Email>,
    ) -> StoreResult<Vec<Email>> {
        existing_mentor_emails(&self.db, org, emails).await
    }
    async fn mentor(&self, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
        mentor(&self.db, org, id).await
    }
    async fn list_mentors(
        &self,
        org: OrgId,
        filter: MentorFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> StoreResult<Page<MentorRecord, MentorCursor>> {
        list_mentors(&self.db, org, filter, today, limit, cursor).await
    }
    async fn update_mentor(
        &self,
        org: OrgId,
        id: MentorId,
        patch: MentorPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        update_mentor(&self.db, org, id, patch, at).await
    }
    async fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<HistoryRecord, i64>> {
        crate::history::history(&self.db, org, mentor, limit, before).await
    }
}

#[cfg(test)]
mod tests {
    use domain::{CertificationPeriod, OrgSlug, OrgTimeZone};
    use store::prelude::*;
    use store::{NewCertification, NewOrg};

    use super::*;
    use crate::SqliteStore;

    async fn store_with(names: &[&str]) -> (SqliteStore, OrgId, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("mentors.db").display());
        let store = SqliteStore::connect(&url, 2, crate::Access::Exclusive)
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let org = store
            .create_org(NewOrg {
                slug: OrgSlug::parse("hlf").expect("a slug"),
                name: "HLF".into(),
                timezone: OrgTimeZone::default(),
            })
            .await
            .expect("an organisation");
        let period = CertificationPeriod::new(
            NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date"),
            NaiveDate::from_ymd_opt(2027, 12, 31).expect("a date"),
        )
        .expect("a period");
        let mentors = names
            .iter()
            .enumerate()
            .map(|(n, name)| NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse(name).expect("a name"),
                email: Email::parse(&format!("m{n}@example.no")).expect("an email"),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: None,
                dynamics_key: None,
                status: domain::MentorStatus::Active,
                certification: Some(NewCertification::new(period)),
            })
            .collect();
        store
            .create_mentors(org.id, Actor::System, mentors, Utc::now())
            .await
            .expect("mentors");
        (store, org.id, dir)
    }

    async fn names(store: &SqliteStore, org: OrgId, filter: MentorFilter) -> Vec<String> {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).expect("a date");
        let page = store
            .list_mentors(org, filter, today, 10, None)
            .await
            .expect("a page");
        page.items.into_iter().map(|m| m.full_name).collect()
    }

    /// SQLite's own lower() and LIKE fold ASCII letters only; PostgreSQL folds them all.
    #[tokio::test]
    async fn the_search_ignores_case_beyond_ascii() {
        let (store, org, _dir) = store_with(&["Øyvind Ås", "Ola Berg"]).await;
        for q in ["øyvind", "ØYVIND", "ås"] {
            let filter = MentorFilter {
                query: Some(q.to_owned()),
                ..Default::default()
            };
            assert_eq!(names(&store, org, filter).await, ["Øyvind Ås"], "{q}");
        }
        let renamed = MentorPatch {
            full_name: Some(FullName::parse("Åse Ødegård").expect("a name")),
            ..Default::default()
        };
        let ola = store
            .list_mentors(
                org,
                MentorFilter::default(),
                Utc::now().date_naive(),
                10,
                None,
            )
            .await
            .expect("a page")
            .items[0]
            .id;
        store
            .update_mentor(org, ola, renamed, Utc::now())
            .await
            .expect("renamed");
        let filter = MentorFilter {
            query: Some("ØDEGÅRD".to_owned()),
            ..Default::default()
        };
        assert_eq!(names(&store, org, filter).await, ["Åse Ødegård"]);
    }

    /// Dates are text: a window past year 9999 must not turn into a bound that sorts before 2026.
    #[tokio::test]
    async fn an_expiry_window_past_the_calendar_is_open_ended() {
        let (store, org, _dir) = store_with(&["Kari"]).await;
        let filter = MentorFilter {
            expiring_within_days: Some(u32::MAX),
            ..Default::default()
        };
        assert_eq!(names(&store, org, filter).await, ["Kari"]);
    }
}
