//! Organisations and their settings.

use std::future::Future;

use domain::{OrgId, OrgSlug};

use crate::{NewOrg, Org, OrgSettings, StoreResult};

/// Organisations and their settings.
pub trait OrgStore: Clone + Send + Sync + 'static {
    fn create_org(&self, org: NewOrg) -> impl Future<Output = StoreResult<Org>> + Send;
    fn org(&self, id: OrgId) -> impl Future<Output = StoreResult<Org>> + Send;
    fn org_by_slug(&self, slug: &OrgSlug) -> impl Future<Output = StoreResult<Option<Org>>> + Send;
    /// Every organisation, for the scheduler.
    fn orgs(&self) -> impl Future<Output = StoreResult<Vec<Org>>> + Send;
    fn org_settings(&self, org: OrgId) -> impl Future<Output = StoreResult<OrgSettings>> + Send;
    fn update_org_settings(
        &self,
        org: OrgId,
        settings: OrgSettings,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
