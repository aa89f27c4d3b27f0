//! Organisations (tenants), their settings, and the users who log in to them.

use domain::{Email, Locale, OrgId, OrgSlug, UserId};
use sqlx::PgPool;
use store::{NewOrg, NewUser, Org, OrgSettings, StoreError, StoreResult, User};

use crate::error::{bad_column, db_err};
use crate::rows::{OrgRow, USER_COLUMNS, UserRow};

pub(crate) async fn create_org(pool: &PgPool, org: NewOrg) -> StoreResult<Org> {
    let row: OrgRow = sqlx::query_as(
        "INSERT INTO organisations (id, slug, name, timezone) VALUES ($1, $2, $3, $4) \
         RETURNING id, slug, name, timezone, created_at",
    )
    .bind(OrgId::new().0)
    .bind(org.slug.as_str())
    .bind(&org.name)
    .bind(org.timezone.name())
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    row.try_into()
}

pub(crate) async fn org(pool: &PgPool, id: OrgId) -> StoreResult<Org> {
    let row: Option<OrgRow> = sqlx::query_as(
        "SELECT id, slug, name, timezone, created_at FROM organisations WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.ok_or(StoreError::not_found("organisation"))?.try_into()
}

pub(crate) async fn org_by_slug(pool: &PgPool, slug: &OrgSlug) -> StoreResult<Option<Org>> {
    let row: Option<OrgRow> = sqlx::query_as(
        "SELECT id, slug, name, timezone, created_at FROM organisations WHERE slug = $1",
    )
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.map(Org::try_from).transpose()
}

pub(crate) async fn create_user(pool: &PgPool, user: NewUser) -> StoreResult<User> {
    let id = UserId::new();
    let subject = user.auth_subject.unwrap_or_else(|| id.to_string());
    let mut tx = pool.begin().await.map_err(db_err)?;
    // A login may only speak for a mentor of its own organisation; the foreign key alone cannot say that.
    if let Some(mentor) = user.mentor_id {
        let same_org: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM mentors WHERE id = $1 AND org_id = $2 FOR KEY SHARE")
                .bind(mentor.0)
                .bind(user.org_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        if same_org.is_none() {
            return Err(StoreError::not_found("mentor"));
        }
    }
    let row: UserRow = sqlx::query_as(&format!(
        "INSERT INTO users (id, org_id, email, role, mentor_id, auth_subject, password_hash, locale) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {USER_COLUMNS}"
    ))
    .bind(id.0)
    .bind(user.org_id.0)
    .bind(user.email.as_str())
    .bind(user.role.as_str())
    .bind(user.mentor_id.map(|m| m.0))
    .bind(&subject)
    .bind(&user.password_hash)
    .bind(user.locale.map(Locale::as_str))
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    row.try_into()
}

pub(crate) async fn user_by_subject(pool: &PgPool, subject: &str) -> StoreResult<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE auth_subject = $1"
    ))
    .bind(subject)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.map(User::try_from).transpose()
}

pub(crate) async fn user_by_email(pool: &PgPool, email: &Email) -> StoreResult<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.map(User::try_from).transpose()
}

/// Every organisation, for the scheduler.
pub(crate) async fn orgs(pool: &PgPool) -> StoreResult<Vec<Org>> {
    let rows: Vec<OrgRow> = sqlx::query_as(
        "SELECT id, slug, name, timezone, created_at FROM organisations ORDER BY slug",
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(Org::try_from).collect()
}

pub(crate) async fn org_settings(pool: &PgPool, org: OrgId) -> StoreResult<OrgSettings> {
    let settings: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT settings FROM organisations WHERE id = $1")
            .bind(org.0)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?;
    let settings = settings.ok_or(StoreError::not_found("organisation"))?;
    serde_json::from_value(settings).map_err(|_| bad_column("organisations.settings"))
}

pub(crate) async fn update_org_settings(
    pool: &PgPool,
    org: OrgId,
    settings: OrgSettings,
) -> StoreResult<()> {
    let value = serde_json::to_value(&settings).map_err(|e| StoreError::Other(Box::new(e)))?;
    // Merged at the top level: keys that `OrgSettings` does not know (written by a newer version, or
    // by hand) survive; a field set to `None` is stored as null, which reads back as `None`.
    let updated = sqlx::query("UPDATE organisations SET settings = settings || $2 WHERE id = $1")
        .bind(org.0)
        .bind(value)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::not_found("organisation"));
    }
    Ok(())
}

impl store::OrgStore for crate::PgStore {
    async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        create_org(&self.pool, org).await
    }
    async fn org(&self, id: OrgId) -> StoreResult<Org> {
        org(&self.pool, id).await
    }
    async fn org_by_slug(&self, slug: &OrgSlug) -> StoreResult<Option<Org>> {
        org_by_slug(&self.pool, slug).await
    }
    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs(&self.pool).await
    }
    async fn org_settings(&self, org: OrgId) -> StoreResult<OrgSettings> {
        org_settings(&self.pool, org).await
    }
    async fn update_org_settings(&self, org: OrgId, settings: OrgSettings) -> StoreResult<()> {
        update_org_settings(&self.pool, org, settings).await
    }
}

impl store::UserStore for crate::PgStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        create_user(&self.pool, user).await
    }
    async fn user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        user_by_subject(&self.pool, subject).await
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        user_by_email(&self.pool, email).await
    }

    async fn set_password_hash(
        &self,
        user: UserId,
        password_hash: Option<String>,
    ) -> StoreResult<()> {
        let updated = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.0)
            .bind(password_hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        match updated.rows_affected() {
            0 => Err(StoreError::not_found("user")),
            _ => Ok(()),
        }
    }
}
