//! Registering, importing, reading and editing mentors.

use std::collections::HashMap;

use chrono::NaiveDate;
use domain::{MentorId, MentorStatus};
use store::{
    Actor, HistoryRecord, MentorCursor, MentorFilter, MentorRecord, MentorStore, Org, OrgStore,
    Page, User,
};

use crate::access::{mentor_of_own_organisation, own_organisation, require};
use crate::{
    Engine, EngineError, FieldError, ImportRow, ImportSummary, MentorInput, MentorPatchInput,
};
use domain::access::Permission;

/// A mentor as read, with the business date its `days_left` counts from.
#[derive(Debug, Clone)]
pub struct MentorSnapshot {
    pub mentor: MentorRecord,
    pub today: NaiveDate,
    /// See [`crate::sync::sync_state`].
    pub sync_state: &'static str,
}

impl<S: MentorStore + OrgStore> Engine<S> {
    pub(crate) fn snapshot(&self, mentor: MentorRecord, today: NaiveDate) -> MentorSnapshot {
        let sync_state = crate::sync::sync_state(&mentor, self.sync_enabled(mentor.org_id));
        MentorSnapshot {
            mentor,
            today,
            sync_state,
        }
    }

    /// The mentor, if `user` may see it: managers see their organisation's mentors, a mentor sees themself.
    pub async fn mentor(&self, user: &User, id: MentorId) -> Result<MentorSnapshot, EngineError> {
        let mentor = self.store().mentor(user.org_id, id).await?;
        require(
            user,
            Permission::SeeMentor,
            mentor_of_own_organisation(user, id),
        )?;
        let today = self.clock().today(self.store(), user.org_id).await?;
        Ok(self.snapshot(mentor, today))
    }

    /// The mentor profile a user logs in as, if any.
    pub async fn own_mentor(&self, user: &User) -> Result<Option<MentorSnapshot>, EngineError> {
        match user.mentor_id {
            Some(id) => self.mentor(user, id).await.map(Some),
            None => Ok(None),
        }
    }

    pub async fn list_mentors(
        &self,
        user: &User,
        filter: MentorFilter,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> Result<(Page<MentorRecord, MentorCursor>, NaiveDate), EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        let today = self.clock().today(self.store(), user.org_id).await?;
        let page = self
            .store()
            .list_mentors(user.org_id, filter, today, limit, cursor)
            .await?;
        Ok((page, today))
    }

    pub async fn register_mentor(
        &self,
        user: &User,
        input: MentorInput,
    ) -> Result<MentorSnapshot, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        let today = self.clock().today(self.store(), user.org_id).await?;
        let mentor = input.validate(today).map_err(EngineError::Invalid)?;
        let ids = self
            .store()
            .create_mentors(
                user.org_id,
                Actor::User(user.id),
                vec![mentor],
                self.clock().now(),
            )
            .await?;
        let mentor = self.store().mentor(user.org_id, ids[0]).await?;
        Ok(self.snapshot(mentor, today))
    }

    pub async fn update_mentor(
        &self,
        user: &User,
        id: MentorId,
        input: MentorPatchInput,
    ) -> Result<MentorSnapshot, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        // Not-found before validation, so another organisation's id never learns which fields are wrong.
        self.store().mentor(user.org_id, id).await?;
        let patch = input.validate().map_err(EngineError::Invalid)?;
        self.store()
            .update_mentor(user.org_id, id, patch, self.clock().now())
            .await?;
        self.mentor(user, id).await
    }

    pub async fn history(
        &self,
        user: &User,
        id: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Page<HistoryRecord, i64>, EngineError> {
        self.mentor(user, id).await?;
        Ok(self.store().history(user.org_id, id, limit, before).await?)
    }

    /// Register many mentors at once (CSV import): every row is checked first, and either all are
    /// written in one transaction or none, with every bad row reported by its line number.
    pub async fn import_mentors(
        &self,
        org: &Org,
        rows: Vec<ImportRow>,
        dry_run: bool,
    ) -> Result<ImportSummary, EngineError> {
        let today = self.clock().today(self.store(), org.id).await?;
        let mut errors: Vec<(usize, FieldError)> = Vec::new();
        let mut mentors = Vec::with_capacity(rows.len());
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            match row.mentor.validate(today) {
                Ok(mentor) => {
                    lines.push(row.line);
                    mentors.push(mentor);
                }
                Err(field_errors) => errors.extend(field_errors.into_iter().map(|e| (row.line, e))),
            }
        }
        errors.extend(duplicates_within_file(&mentors, &lines));
        let emails = mentors.iter().map(|m| m.email.clone()).collect();
        let taken = self.store().existing_mentor_emails(org.id, emails).await?;
        for (mentor, line) in mentors.iter().zip(&lines) {
            if taken.contains(&mentor.email) {
                errors.push((
                    *line,
                    FieldError::new("email", format!("{} is already registered", mentor.email)),
                ));
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|(line, _)| *line);
            return Err(EngineError::InvalidRows(errors));
        }
        let summary = ImportSummary {
            rows: mentors.len(),
            active: count(&mentors, MentorStatus::Active),
            certification_expired: count(&mentors, MentorStatus::CertificationExpired),
            dry_run,
        };
        if !dry_run {
            self.store()
                .create_mentors(org.id, Actor::System, mentors, self.clock().now())
                .await?;
        }
        Ok(summary)
    }
}

fn count(mentors: &[store::NewMentor], status: MentorStatus) -> usize {
    mentors.iter().filter(|m| m.status == status).count()
}

/// Rows that repeat an email or Dynamics link of an earlier row in the same file.
fn duplicates_within_file(
    mentors: &[store::NewMentor],
    lines: &[usize],
) -> Vec<(usize, FieldError)> {
    let mut errors = Vec::new();
    let mut emails: HashMap<&str, usize> = HashMap::new();
    let mut contacts: HashMap<uuid::Uuid, usize> = HashMap::new();
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (mentor, &line) in mentors.iter().zip(lines) {
        if let Some(first) = first_seen(&mut emails, mentor.email.as_str(), line) {
            errors.push((
                line,
                FieldError::new("email", format!("repeats line {first}")),
            ));
        }
        if let Some(contact) = mentor.dynamics_contact_id
            && let Some(first) = first_seen(&mut contacts, contact, line)
        {
            errors.push((
                line,
                FieldError::new("dynamics_contact_id", format!("repeats line {first}")),
            ));
        }
        if let Some(key) = mentor.dynamics_key.as_deref()
            && let Some(first) = first_seen(&mut keys, key, line)
        {
            errors.push((
                line,
                FieldError::new("dynamics_key", format!("repeats line {first}")),
            ));
        }
    }
    errors
}

/// The line where `key` was first seen, or `None` (remembering `line`) when this is the first time.
fn first_seen<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, usize>,
    key: K,
    line: usize,
) -> Option<usize> {
    match seen.entry(key) {
        std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(line);
            None
        }
    }
}
