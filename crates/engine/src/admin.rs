//! What coordinators and admins read and change besides mentors: organisation settings, the run log,
//! alerts, and a mentor's reminder ledger.

use domain::{Locale, MentorId, Thresholds};
use serde::{Deserialize, Serialize};
use store::{
    AlertRecord, AlertStore, FindingRecord, FindingStore, OrgSettings, Page, ReminderRecord, RunId,
    RunRecord, RunStore, User,
};
use uuid::Uuid;

use crate::access::{own_organisation, require};
use crate::{Engine, EngineError};
use domain::access::Permission;
use store::{ExpiryStore, MentorStore, OrgStore};

/// Settings as shown to admins: what is stored, and what applies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// The organisation's own thresholds, if set.
    pub thresholds_days: Option<Vec<u16>>,
    /// The thresholds the nightly run uses now.
    pub effective_thresholds_days: Vec<u16>,
    /// Whether notifications are also emailed.
    pub email_enabled: bool,
    /// The language of the organisation's emails.
    pub locale: Locale,
    pub features: FeaturesView,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeaturesView {
    /// Whether organisations' own thresholds apply (a deployment-wide flag).
    pub per_org_thresholds: bool,
}

/// A settings change; `thresholds_days: null` (or absent) removes the organisation's own thresholds;
/// `email_enabled` and `locale` change only when given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Days before expiry, each 1–365; duplicates are merged. `null` or absent: the configured ones.
    #[serde(default, deserialize_with = "whole_numbers")]
    #[schema(schema_with = thresholds_schema)]
    pub thresholds_days: Option<Vec<i64>>,
    pub email_enabled: Option<bool>,
    #[schema(value_type = Option<Locale>)]
    pub locale: Option<String>,
}

/// Whole numbers as JSON has them: `7` and also `7.0` (the same number), but not `7.5`. Each is
/// read on its own, so an error names its index.
fn whole_numbers<'de, D>(d: D) -> Result<Option<Vec<i64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let numbers = Option::<Vec<WholeNumber>>::deserialize(d)?;
    Ok(numbers.map(|numbers| numbers.into_iter().map(|n| n.0).collect()))
}

struct WholeNumber(i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Beyond this, floating-point numbers are no longer exact whole numbers.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        let n = serde_json::Number::deserialize(d)?;
        n.as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT)
                    .map(|f| f as i64)
            })
            .map(WholeNumber)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number")))
    }
}

fn thresholds_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, Type, schema::SchemaType};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .min_items(Some(1))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(Thresholds::MIN))
                .maximum(Some(Thresholds::MAX)),
        )
        .build()
}

impl<S: OrgStore> Engine<S> {
    pub async fn settings(&self, user: &User) -> Result<SettingsView, EngineError> {
        require(user, Permission::Administer, own_organisation(user))?;
        let org = self.store().org(user.org_id).await?;
        let stored = self.store().org_settings(org.id).await?;
        Ok(SettingsView {
            thresholds_days: stored.thresholds_days,
            effective_thresholds_days: self.effective_thresholds(&org).await?.as_slice().to_vec(),
            email_enabled: stored.email_enabled,
            locale: stored.locale,
            features: FeaturesView {
                per_org_thresholds: self.expiry_config().per_org_thresholds,
            },
        })
    }

    pub async fn update_settings(
        &self,
        user: &User,
        input: SettingsInput,
    ) -> Result<SettingsView, EngineError> {
        require(user, Permission::Administer, own_organisation(user))?;
        let thresholds_days = input
            .thresholds_days
            .map(|values| Thresholds::parse(&values).map(|t| t.as_slice().to_vec()))
            .transpose()
            .map_err(|e| EngineError::invalid("thresholds_days", e.to_string()))?;
        let locale = input
            .locale
            .map(|code| Locale::parse(&code))
            .transpose()
            .map_err(|e| EngineError::invalid("locale", e.to_string()))?;
        let stored = self.store().org_settings(user.org_id).await?;
        let settings = OrgSettings {
            thresholds_days,
            email_enabled: input.email_enabled.unwrap_or(stored.email_enabled),
            locale: locale.unwrap_or(stored.locale),
        };
        self.store()
            .update_org_settings(user.org_id, settings)
            .await?;
        self.settings(user).await
    }
}

impl<S: MentorStore + OrgStore + ExpiryStore> Engine<S> {
    /// A mentor's reminder ledger, for managers and for the mentor themself.
    pub async fn reminders(
        &self,
        user: &User,
        id: MentorId,
    ) -> Result<Vec<ReminderRecord>, EngineError> {
        self.mentor(user, id).await?;
        Ok(self.store().reminders(user.org_id, id).await?)
    }
}

impl<S: RunStore> Engine<S> {
    pub async fn runs(
        &self,
        user: &User,
        limit: u32,
        before: Option<RunId>,
    ) -> Result<Page<RunRecord, RunId>, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self.store().runs(user.org_id, limit, before).await?)
    }
}

impl<S: FindingStore> Engine<S> {
    /// The reconciliation log: what the nightly checks found, newest first.
    pub async fn findings(
        &self,
        user: &User,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Page<FindingRecord, i64>, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self.store().findings(user.org_id, limit, before).await?)
    }
}

impl<S: AlertStore> Engine<S> {
    pub async fn alerts(
        &self,
        user: &User,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> Result<Page<AlertRecord, Uuid>, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self
            .store()
            .alerts(user.org_id, open_only, limit, before)
            .await?)
    }

    pub async fn acknowledge_alert(
        &self,
        user: &User,
        id: Uuid,
    ) -> Result<AlertRecord, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self
            .store()
            .acknowledge_alert(user.org_id, id, user.id, self.clock().now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_whole_numbers_however_json_writes_them() {
        let input: SettingsInput =
            serde_json::from_str(r#"{"thresholds_days": [30, 14.0, 7]}"#).unwrap();
        assert_eq!(input.thresholds_days, Some(vec![30, 14, 7]));
        let absent: SettingsInput = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.thresholds_days, None);
        let null: SettingsInput = serde_json::from_str(r#"{"thresholds_days": null}"#).unwrap();
        assert_eq!(null.thresholds_days, None);
        for bad in [r#"[7.5]"#, r#"[1e300]"#, r#"["7"]"#] {
            let json = format!(r#"{{"thresholds_days": {bad}}}"#);
            assert!(
                serde_json::from_str::<SettingsInput>(&json).is_err(),
                "{bad}"
            );
        }
    }
}
