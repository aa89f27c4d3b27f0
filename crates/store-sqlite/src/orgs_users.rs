//! Organisations (tenants), their settings, and the users who log in to them.

use domain::{Email, Locale, OrgId, OrgSlug, UserId};
use store::{NewOrg, NewUser, Org, OrgSettings, StoreError, StoreResult, User};

use crate::db::Db;
use crate::error::{bad_column, db_err};
use crate::exists::{mentor_exists, org_exists};
use crate::rows::{ORG_COLUMNS, OrgRow, USER_COLUMNS, UserRow};
use crate::time::Ts;

pub(crate) async fn create_org(db: &Db, org: NewOrg) -> StoreResult<Org> {
    let mut tx = db.begin().await?;
    let row: OrgRow = sqlx::query_as(&format!(
        "INSERT INTO organisations (id, slug, name, timezone, created_at) VALUES (?, ?, ?, ?, ?) \
         RETURNING {ORG_COLUMNS}"
    ))
    .bind(OrgId::new().0)
    .bind(org.slug.as_str())
    .bind(&org.name)
    .bind(org.timezone.name())
    .bind(Ts::now())
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await?;
    row.try_into()
}

pub(crate) async fn org(db: &Db, id: OrgId) -> StoreResult<Org> {
    let row: Option<OrgRow> = sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = ?"
    ))
    .bind(id.0)
    .fetch_optional(&db.read)
    .await
    .map_err(db_err)?;
    row.ok_or(StoreError::not_found("organisation"))?.try_into()
}

pub(crate) async fn org_by_slug(db: &Db, slug: &OrgSlug) -> StoreResult<Option<Org>> {
    let row: Option<OrgRow> = sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE slug = ?"
    ))
    .bind(slug.as_str())
    .fetch_optional(&db.read)
    .await
    .map_err(db_err)?;
    row.map(Org::try_from).transpose()
}

pub(crate) async fn create_user(db: &Db, user: NewUser) -> StoreResult<User> {
    let id = UserId::new();
    let subject = user.auth_subject.unwrap_or_else(|| id.to_string());
    let mut tx = db.begin().await?;
    if !org_exists(&mut *tx, user.org_id).await? {
        return Err(StoreError::not_found("organisation"));
    }
    // A login may only speak for a mentor of its own organisation; the foreign key alone cannot say that.
    if let Some(mentor) = user.mentor_id
        && !mentor_exists(&mut *tx, user.org_id, mentor).await?
    {
        return Err(StoreError::not_found("mentor"));
    }
    let row: UserRow = sqlx::query_as(&format!(
        "INSERT INTO users (id, org_id, email, role, mentor_id, auth_subject, password_hash, locale, \
                            created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}"
    ))
    .bind(id.0)
    .bind(user.org_id.0)
    .bind(user.email.as_str())
    .bind(user.role.as_str())
    .bind(user.mentor_id.map(|m| m.0))
    .bind(&subject)
    .bind(&user.password_hash)
    .bind(user.locale.map(Locale::as_str))
    .bind(Ts::now())
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await?;
    row.try_into()
}

pub(crate) async fn user_by_subject(db: &Db, subject: &str) -> StoreResult<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE auth_subject = ?"
    ))
    .bind(subject)
    .fetch_optional(&db.read)
    .await
    .map_err(db_err)?;
    row.map(User::try_from).transpose()
}

pub(crate) async fn user_by_email(db: &Db, email: &Email) -> StoreResult<Option<User>> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
            .bind(email.as_str())
            .fetch_optional(&db.read)
            .await
            .map_err(db_err)?;
    row.map(User::try_from).transpose()
}

/// Every organisation, for the scheduler.
pub(crate) async fn orgs(db: &Db) -> StoreResult<Vec<Org>> {
    let rows: Vec<OrgRow> = sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations ORDER BY slug"
    ))
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(Org::try_from).collect()
}

pub(crate) async fn org_settings(db: &Db, org: OrgId) -> StoreResult<OrgSettings> {
    let settings: Option<String> =
        sqlx::query_scalar("SELECT settings FROM organisations WHERE id = ?")
            .bind(org.0)
            .fetch_optional(&db.read)
            .await
            .map_err(db_err)?;
    let settings = settings.ok_or(StoreError::not_found("organisation"))?;
    serde_json::from_str(&settings).map_err(|_| bad_column("organisations.settings"))
}

pub(crate) async fn update_org_settings(
    db: &Db,
    org: OrgId,
    settings: OrgSettings,
) -> StoreResult<()> {
    let update: serde_json::Map<String, serde_json::Value> = serde_json::to_value(&settings)
        .and_then(serde_json::from_value)
        .map_err(|e| StoreError::Other(Box::new(e)))?;
    let mut tx = db.begin().await?;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT settings FROM organisations WHERE id = ?")
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    let stored = stored.ok_or(StoreError::not_found("organisation"))?;
    let mut merged: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stored).map_err(|_| bad_column("organisations.settings"))?;
    // Merged at the top level, as PostgreSQL's `jsonb || jsonb`: keys that `OrgSettings` does not
    // know (written by a newer version, or by hand) survive; a field set to `None` is stored as
    // null, which reads back as `None`. (SQLite's json_patch would delete on null and merge nested
    // objects instead.)
    merged.extend(update);
    sqlx::query("UPDATE organisations SET settings = ? WHERE id = ?")
        .bind(serde_json::Value::Object(merged).to_string())
        .bind(org.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    db.commit(tx).await
}

impl store::OrgStore for crate::SqliteStore {
    async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        create_org(&self.db, org).await
    }
    async fn org(&self, id: OrgId) -> StoreResult<Org> {
        org(&self.db, id).await
    }
    async fn org_by_slug(&self, slug: &OrgSlug) -> StoreResult<Option<Org>> {
        org_by_slug(&self.db, slug).await
    }
    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs(&self.db).await
    }
    async fn org_settings(&self, org: OrgId) -> StoreResult<OrgSettings> {
        org_settings(&self.db, org).await
    }
    async fn update_org_settings(&self, org: OrgId, settings: OrgSettings) -> StoreResult<()> {
        update_org_settings(&self.db, org, settings).await
    }
}

impl store::UserStore for crate::SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        create_user(&self.db, user).await
    }
    async fn user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        user_by_subject(&self.db, subject).await
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        user_by_email(&self.db, email).await
    }

    async fn set_password_hash(
        &self,
        user: UserId,
        password_hash: Option<String>,
    ) -> StoreResult<()> {
        let db = &self.db;
        let mut tx = db.begin().await?;
        let updated = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::not_found("user"));
        }
        db.commit(tx).await
    }
}
