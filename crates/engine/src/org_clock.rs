use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use domain::{Clock, OrgId, OrgTimeZone, business_date};
use store::{OrgStore, StoreResult};

/// The injectable clock plus each organisation's time zone, remembered after the first read:
/// an organisation's zone never changes after it is created, and every request needs its business date.
#[derive(Debug, Clone)]
pub struct OrgClock {
    clock: Arc<dyn Clock>,
    zones: Arc<RwLock<HashMap<OrgId, OrgTimeZone>>>,
}

impl OrgClock {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            zones: Arc::default(),
        }
    }

    /// Now, to the microsecond: what the database keeps, so a value we answer with equals the one
    /// a later read returns.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    /// Today's date in the organisation's time zone.
    pub async fn today<S: OrgStore>(&self, store: &S, org: OrgId) -> StoreResult<NaiveDate> {
        let zone = self.zone(store, org).await?;
        Ok(business_date(self.now(), zone))
    }

    async fn zone<S: OrgStore>(&self, store: &S, org: OrgId) -> StoreResult<OrgTimeZone> {
        if let Some(zone) = self.zones.read().expect("zone cache poisoned").get(&org) {
            return Ok(*zone);
        }
        let zone = store.org(org).await?.timezone;
        self.zones
            .write()
            .expect("zone cache poisoned")
            .insert(org, zone);
        Ok(zone)
    }
}
