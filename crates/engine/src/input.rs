//! Client input before validation, and its parsing into the store's write types. Every problem is
//! collected with the field it belongs to, so one answer names them all.

use chrono::NaiveDate;
use domain::text::NO_CONTROL_PATTERN;
use domain::{CertificationPeriod, Email, FullName, MentorId, MentorStatus, Phone, is_valid_on};
use serde::Deserialize;
use store::{MentorPatch, NewCertification, NewMentor};
use uuid::Uuid;

use crate::FieldError;

/// Longest alternate key we accept for a Dynamics record.
const DYNAMICS_KEY_MAX_CHARS: usize = 100;

/// A certification period: `expires_on` (the last valid day) must not be before `issued_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificationInput {
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

impl CertificationInput {
    pub fn validate(self, field: &str) -> Result<CertificationPeriod, FieldError> {
        CertificationPeriod::new(self.issued_on, self.expires_on)
            .map_err(|e| FieldError::new(format!("{field}expires_on"), e.to_string()))
    }
}

/// A mentor to register, from the API or one CSV row. A Dynamics link is a contact id or an alternate
/// key, not both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorInput {
    #[schema(value_type = FullName)]
    pub full_name: String,
    #[schema(value_type = Email)]
    pub email: String,
    /// Blank (empty or spaces) or null: no phone.
    #[serde(default)]
    #[schema(schema_with = phone_field_schema)]
    pub phone: Option<String>,
    /// Whether the public website lists the mentor (default true).
    #[serde(default)]
    pub listed_publicly: Option<bool>,
    #[serde(default)]
    pub dynamics_contact_id: Option<Uuid>,
    /// An alternate key of the Dynamics record; blank or null: none.
    #[serde(default)]
    #[schema(schema_with = dynamics_key_schema)]
    pub dynamics_key: Option<String>,
    /// The first certification; without one the mentor starts as `certification_expired`.
    #[serde(default)]
    pub certification: Option<CertificationInput>,
}

fn phone_field_schema() -> utoipa::openapi::Object {
    optional_text(Phone::MAX_CHARS, Phone::OPTIONAL_PATTERN)
        .description(Some(
            "Digits, spaces and + - ( ), at least 3 digits; blank (empty or spaces) or null: none.",
        ))
        .build()
}

fn dynamics_key_schema() -> utoipa::openapi::Object {
    optional_text(DYNAMICS_KEY_MAX_CHARS, NO_CONTROL_PATTERN)
        .description(Some(
            "An alternate key of the Dynamics record, no control characters; kept trimmed; blank \
             or null: none.",
        ))
        .build()
}

fn optional_text(max_length: usize, pattern: &str) -> utoipa::openapi::ObjectBuilder {
    use utoipa::openapi::{ObjectBuilder, Type, schema::SchemaType};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(max_length))
        .pattern(Some(pattern))
}

impl MentorInput {
    /// Parse into a mentor to insert; `today` decides whether it starts active.
    pub fn validate(self, today: NaiveDate) -> Result<NewMentor, Vec<FieldError>> {
        let mut errors = Vec::new();
        let full_name = collect(FullName::parse(&self.full_name), "full_name", &mut errors);
        let email = collect(Email::parse(&self.email), "email", &mut errors);
        let phone = match self.phone {
            Some(raw) => collect(Phone::parse_optional(&raw), "phone", &mut errors),
            None => Some(None),
        };
        let dynamics_key = match validate_dynamics_key(self.dynamics_key) {
            Ok(key) => Some(key),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if self.dynamics_contact_id.is_some() && dynamics_key.as_ref().is_some_and(Option::is_some)
        {
            errors.push(FieldError::new(
                "dynamics_key",
                "give either dynamics_contact_id or dynamics_key, not both",
            ));
        }
        let certification = match self.certification.map(|c| c.validate("certification.")) {
            Some(Ok(period)) => Some(Some(NewCertification::new(period))),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => Some(None),
        };
        match (full_name, email, phone, dynamics_key, certification) {
            (
                Some(full_name),
                Some(email),
                Some(phone),
                Some(dynamics_key),
                Some(certification),
            ) if errors.is_empty() => {
                let valid = certification
                    .as_ref()
                    .is_some_and(|c| is_valid_on(c.period.expires_on(), today));
                Ok(NewMentor {
                    id: MentorId::new(),
                    full_name,
                    email,
                    phone,
                    listed_publicly: self.listed_publicly.unwrap_or(true),
                    dynamics_contact_id: self.dynamics_contact_id,
                    dynamics_key,
                    status: MentorStatus::by_certification(valid),
                    certification,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A change to a mentor's details: absent fields stay, `null` (or a blank text) clears an optional
/// one. At least one field; a Dynamics link is a contact id or an alternate key, not both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorPatchInput {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = FullName)]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Email)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = phone_field_schema)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub listed_publicly: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub dynamics_contact_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = dynamics_key_schema)]
    pub dynamics_key: Option<Option<String>>,
}

impl MentorPatchInput {
    pub fn validate(self) -> Result<MentorPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut patch = MentorPatch {
            listed_publicly: self.listed_publicly,
            dynamics_contact_id: self.dynamics_contact_id,
            ..MentorPatch::default()
        };
        if let Some(raw) = self.full_name {
            patch.full_name = collect(FullName::parse(&raw), "full_name", &mut errors);
        }
        if let Some(raw) = self.email {
            patch.email = collect(Email::parse(&raw), "email", &mut errors);
        }
        if let Some(raw) = self.phone {
            patch.phone = match raw {
                Some(raw) => collect(Phone::parse_optional(&raw), "phone", &mut errors),
                None => Some(None),
            };
        }
        if let Some(raw) = self.dynamics_key {
            match validate_dynamics_key(raw) {
                Ok(key) => patch.dynamics_key = Some(key),
                Err(e) => errors.push(e),
            }
        }
        let sets_contact = matches!(patch.dynamics_contact_id, Some(Some(_)));
        let sets_key = matches!(patch.dynamics_key, Some(Some(_)));
        if sets_contact && sets_key {
            errors.push(FieldError::new(
                "dynamics_key",
                "give either dynamics_contact_id or dynamics_key, not both",
            ));
        }
        let empty = patch.full_name.is_none()
            && patch.email.is_none()
            && patch.phone.is_none()
            && patch.listed_publicly.is_none()
            && patch.dynamics_contact_id.is_none()
            && patch.dynamics_key.is_none();
        if errors.is_empty() && empty {
            errors.push(FieldError::new("body", "nothing to change"));
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }
}

/// One data row of an import, with its line number in the file.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: usize,
    pub mentor: MentorInput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub rows: usize,
    pub active: usize,
    pub certification_expired: usize,
    /// True when nothing was written on purpose (`--dry-run`).
    pub dry_run: bool,
}

fn collect<T, E: std::fmt::Display>(
    result: Result<T, E>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|e| errors.push(FieldError::new(field, e.to_string())))
        .ok()
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// At most [`DYNAMICS_KEY_MAX_CHARS`] characters (as sent), no control characters; blank is none.
fn validate_dynamics_key(raw: Option<String>) -> Result<Option<String>, FieldError> {
    if let Some(key) = &raw
        && (key.chars().count() > DYNAMICS_KEY_MAX_CHARS || key.chars().any(char::is_control))
    {
        return Err(FieldError::new(
            "dynamics_key",
            format!("must be at most {DYNAMICS_KEY_MAX_CHARS} printable characters"),
        ));
    }
    Ok(non_blank(raw).map(|key| key.trim().to_owned()))
}

/// A field that may be absent (`None`) but not `null`.
fn present<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`) in a PATCH body.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn input() -> MentorInput {
        MentorInput {
            full_name: "Kari Nordmann".into(),
            email: "kari@example.no".into(),
            certification: Some(CertificationInput {
                issued_on: date("2026-01-01"),
                expires_on: date("2027-01-01"),
            }),
            ..MentorInput::default()
        }
    }

    #[test]
    fn a_valid_certification_starts_active_and_none_starts_expired() {
        let today = date("2026-06-01");
        assert_eq!(
            input().validate(today).unwrap().status,
            MentorStatus::Active
        );
        let lapsed = MentorInput {
            certification: None,
            ..input()
        };
        assert_eq!(
            lapsed.validate(today).unwrap().status,
            MentorStatus::CertificationExpired
        );
        assert_eq!(
            input().validate(date("2027-01-02")).unwrap().status,
            MentorStatus::CertificationExpired
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = MentorInput {
            full_name: " ".into(),
            email: "nope".into(),
            phone: Some("call me".into()),
            certification: Some(CertificationInput {
                issued_on: date("2026-02-01"),
                expires_on: date("2026-01-01"),
            }),
            ..MentorInput::default()
        };
        let fields: Vec<String> = bad
            .validate(date("2026-01-01"))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["full_name", "email", "phone", "certification.expires_on"]
        );
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let patch: MentorPatchInput = serde_json::from_str(r#"{"phone": null}"#).unwrap();
        assert!(matches!(patch.validate().unwrap().phone, Some(None)));
        let patch: MentorPatchInput =
            serde_json::from_str(r#"{"listed_publicly": false}"#).unwrap();
        let patch = patch.validate().unwrap();
        assert!(patch.phone.is_none());
        assert_eq!(patch.listed_publicly, Some(false));
        let empty: MentorPatchInput = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.validate().unwrap_err()[0].field, "body");
    }
}
