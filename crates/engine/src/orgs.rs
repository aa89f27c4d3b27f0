//! An organisation as every page shows it: its record and its language.

use domain::{Locale, OrgId};
use store::{Org, OrgStore};

use crate::{Engine, EngineError};

impl<S: OrgStore> Engine<S> {
    /// The organisation `id` and the language its settings choose.
    pub async fn org_and_locale(&self, id: OrgId) -> Result<(Org, Locale), EngineError> {
        let org = self.store().org(id).await?;
        let locale = self.store().org_settings(id).await?.locale;
        Ok((org, locale))
    }
}
