//! `mentor-status orgs add`.

use serde_json::json;
use store::{Constraint, NewOrg, Store};

use super::{Outcome, store_failed};
use crate::args::OrgsAdd;
use crate::error::CliError;

pub async fn add<S: Store>(store: &S, args: OrgsAdd) -> Result<Outcome, CliError> {
    let name = args.name.trim();
    if name.is_empty() {
        return Err(CliError::usage("--name must not be empty"));
    }
    let slug = args.slug.clone();
    let org = store
        .create_org(NewOrg {
            slug: args.slug,
            name: name.to_owned(),
            timezone: args.timezone,
        })
        .await
        .map_err(|e| match e.constraint() {
            Some(Constraint::OrgSlug) => {
                CliError::failed(format!("an organisation with slug `{slug}` already exists"))
            }
            _ => store_failed("cannot create the organisation", e),
        })?;
    Ok(Outcome::report(
        format!(
            "created organisation {} ({}), time zone {}, id {}",
            org.slug,
            org.name,
            org.timezone.name(),
            org.id
        ),
        json!({
            "id": org.id,
            "slug": org.slug,
            "name": org.name,
            "timezone": org.timezone.name(),
        }),
    ))
}
