//! Registering mentors, changing their details, and reading them one at a time or as a filtered list.

use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::{Email, FullName, MentorId, OrgId, Phone};
use sqlx::{PgPool, Postgres, QueryBuilder};
use store::{
    Actor, MentorCursor, MentorFilter, MentorPatch, MentorRecord, NewMentor, Page, StoreError,
    StoreResult,
};
use uuid::Uuid;

use crate::appends::{HistoryEntry, enqueue_sync, insert_certifications, insert_history};
use crate::error::{bad_column, db_err};
use crate::rows::{MENTOR_SELECT, MentorRow};
use store::HistoryRecord;

/// What the history says about a mentor's first status.
const REGISTERED: &str = "registered";

pub(crate) async fn create_mentors(
    pool: &PgPool,
    org: OrgId,
    actor: Actor,
    mentors: Vec<NewMentor>,
    at: DateTime<Utc>,
) -> StoreResult<Vec<MentorId>> {
    if mentors.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = mentors.iter().map(|m| m.id.0).collect();
    let names: Vec<&str> = mentors.iter().map(|m| m.full_name.as_str()).collect();
    let emails: Vec<&str> = mentors.iter().map(|m| m.email.as_str()).collect();
    let phones: Vec<Option<&str>> = mentors
        .iter()
        .map(|m| m.phone.as_ref().map(Phone::as_str))
        .collect();
    let statuses: Vec<&str> = mentors.iter().map(|m| m.status.as_str()).collect();
    let listed: Vec<bool> = mentors.iter().map(|m| m.listed_publicly).collect();
    let contact_ids: Vec<Option<Uuid>> = mentors.iter().map(|m| m.dynamics_contact_id).collect();
    let keys: Vec<Option<&str>> = mentors.iter().map(|m| m.dynamics_key.as_deref()).collect();
    // What the certifications trigger would set right after; written with the row, so an import of
    // thousands of mentors does not update each of them a second time.
    let current_expires_on: Vec<Option<NaiveDate>> = mentors
        .iter()
        .map(|m| m.certification.as_ref().map(|c| c.period.expires_on()))
        .collect();

    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(
        "INSERT INTO mentors (id, org_id, full_name, email, phone, status, status_changed_at, listed_publicly, \
                              dynamics_contact_id, dynamics_key, version, current_expires_on, created_at, updated_at) \
         SELECT m.id, $1, m.full_name, m.email, m.phone, m.status, $2, m.listed_publicly, \
                m.dynamics_contact_id, m.dynamics_key, 1, m.current_expires_on, $2, $2 \
         FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::uuid[], $10::text[], \
                     $11::date[]) \
              AS m(id, full_name, email, phone, status, listed_publicly, dynamics_contact_id, dynamics_key, \
                   current_expires_on)",
    )
    .bind(org.0)
    .bind(at)
    .bind(&ids)
    .bind(&names)
    .bind(&emails)
    .bind(&phones)
    .bind(&statuses)
    .bind(&listed)
    .bind(&contact_ids)
    .bind(&keys)
    .bind(&current_expires_on)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;

    let certifications: Vec<_> = mentors
        .iter()
        .filter_map(|m| m.certification.as_ref().map(|c| (m.id, c)))
        .collect();
    insert_certifications(&mut tx, &certifications, at).await?;
    let history: Vec<HistoryEntry<'_>> = mentors
        .iter()
        .map(|m| HistoryEntry {
            mentor: m.id,
            from: None,
            to: m.status,
            reason: Some(REGISTERED),
            idempotency_key: None,
        })
        .collect();
    insert_history(&mut tx, org, actor, &history, at).await?;
    let first_versions: Vec<_> = mentors.iter().map(|m| (m.id, 1)).collect();
    enqueue_sync(&mut tx, org, &first_versions).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(mentors.into_iter().map(|m| m.id).collect())
}

pub(crate) async fn existing_mentor_emails(
    pool: &PgPool,
    org: OrgId,
    emails: Vec<Email>,
) -> StoreResult<Vec<Email>> {
    let wanted: Vec<&str> = emails.iter().map(Email::as_str).collect();
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT email FROM mentors WHERE org_id = $1 AND email = ANY($2) ORDER BY email",
    )
    .bind(org.0)
    .bind(&wanted)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    found
        .iter()
        .map(|e| Email::parse(e).map_err(|_| bad_column("mentors.email")))
        .collect()
}

pub(crate) async fn mentor(pool: &PgPool, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
    // Scoped by organisation: another organisation's mentor is "not found", never "forbidden".
    let row: Option<MentorRow> = sqlx::query_as(&format!(
        "{MENTOR_SELECT} WHERE m.org_id = $1 AND m.id = $2"
    ))
    .bind(org.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.ok_or(StoreError::not_found("mentor"))?.try_into()
}

pub(crate) async fn list_mentors(
    pool: &PgPool,
    org: OrgId,
    filter: MentorFilter,
    today: NaiveDate,
    limit: u32,
    cursor: Option<MentorCursor>,
) -> StoreResult<Page<MentorRecord, MentorCursor>> {
    let mut query = QueryBuilder::<Postgres>::new(MENTOR_SELECT);
    query.push("WHERE m.org_id = ").push_bind(org.0);
    if let Some(status) = filter.status {
        query.push(" AND m.status = ").push_bind(status.as_str());
    }
    if let Some(days) = filter.expiring_within_days {
        // Calendar days, both ends inclusive; a window past the end of the calendar is open-ended.
        let last = today
            .checked_add_days(Days::new(days.into()))
            .unwrap_or(NaiveDate::MAX);
        query
            .push(" AND c.expires_on BETWEEN ")
            .push_bind(today)
            .push(" AND ")
            .push_bind(last);
    }
    if let Some(q) = filter.query.as_deref() {
        let pattern = format!("%{}%", escape_like(q));
        query
            .push(" AND (lower(m.full_name) LIKE lower(")
            .push_bind(pattern.clone())
            .push(r") ESCAPE '\' OR m.email LIKE lower(")
            .push_bind(pattern)
            .push(r") ESCAPE '\')");
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
        .fetch_all(pool)
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

/// `q` as a literal inside a LIKE pattern: its wildcards and the escape character match themselves.
fn escape_like(q: &str) -> String {
    let mut escaped = String::with_capacity(q.len());
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(crate) async fn update_mentor(
    pool: &PgPool,
    org: OrgId,
    id: MentorId,
    patch: MentorPatch,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut query =
        QueryBuilder::<Postgres>::new("UPDATE mentors SET version = version + 1, updated_at = ");
    query.push_bind(at);
    if let Some(name) = patch.full_name {
        query
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

    let mut tx = pool.begin().await.map_err(db_err)?;
    let version: Option<i64> = query
        .build_query_scalar()
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let version = version.ok_or(StoreError::not_found("mentor"))?;
    enqueue_sync(&mut tx, org, &[(id, version)]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

impl store::MentorStore for crate::PgStore {
    async fn create_mentors(
        &self,
        org: OrgId,
        actor: Actor,
        mentors: Vec<NewMentor>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<MentorId>> {
        create_mentors(&self.pool, org, actor, mentors, at).await
    }
    async fn existing_mentor_emails(
        &self,
        org: OrgId,
        emails: Vec<Email>,
    ) -> StoreResult<Vec<Email>> {
        existing_mentor_emails(&self.pool, org, emails).await
    }
    async fn mentor(&self, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
        mentor(&self.pool, org, id).await
    }
    async fn list_mentors(
        &self,
        org: OrgId,
        filter: MentorFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> StoreResult<Page<MentorRecord, MentorCursor>> {
        list_mentors(&self.pool, org, filter, today, limit, cursor).await
    }
    async fn update_mentor(
        &self,
        org: OrgId,
        id: MentorId,
        patch: MentorPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        update_mentor(&self.pool, org, id, patch, at).await
    }
    async fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<HistoryRecord, i64>> {
        crate::history::history(&self.pool, org, mentor, limit, before).await
    }
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("Kari"), "Kari");
    }
}
