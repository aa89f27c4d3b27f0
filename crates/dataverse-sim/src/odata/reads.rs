//! `GET` requests: `WhoAmI`, one record, and pages of the collection.

use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde_json::json;

use crate::odata::prefer::Preferences;
use crate::odata::query::{self, QueryOptions};
use crate::odata::records::{self, context_url};
use crate::odata::resource::RecordKey;
use crate::response::{ApiError, PREFERENCE_APPLIED, SimResponse, codes};
use crate::state::SimState;
use crate::stats::bump;
use crate::store::Fields;

pub(crate) fn who_am_i(state: &SimState) -> SimResponse {
    let identity = &state.identity;
    SimResponse::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!(
                "{}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                state.service_root()
            ),
            "BusinessUnitId": identity.business_unit_id,
            "UserId": identity.user_id,
            "OrganizationId": identity.organization_id,
        }),
    )
}

/// A collection page in Dataverse's member order.
#[derive(Serialize)]
struct Page {
    #[serde(rename = "@odata.context")]
    context: String,
    value: Vec<Fields>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

/// One page of the collection, in primary-key order, after the `$skiptoken`'s key. Because the token
/// is a key rather than an offset, records written meanwhile neither repeat nor go missing.
pub(crate) fn collection(
    state: &SimState,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<SimResponse, ApiError> {
    let options = QueryOptions::parse(query)?;
    let asked = Preferences::from_headers(headers).max_page_size;
    let limit = state.config.max_page_size.max(1);
    let page_size = asked.map_or(limit, |size| size.min(limit));
    let config = &state.config;
    let select = options.select.as_deref();

    let (value, last_key_if_more) = {
        let store = state.store();
        let point = state.read_point(&store);
        let mut matching = store
            .rows_after(options.after, point)
            .filter(|(_, row)| options.matches(&row.fields));
        let page: Vec<_> = matching.by_ref().take(page_size).collect();
        let more = matching.next().is_some();
        let last_key_if_more = page.last().map(|(id, _)| *id).filter(|_| more);
        let value = page
            .iter()
            .map(|(_, row)| records::shape(row, select, &config.primary_key))
            .collect();
        (value, last_key_if_more)
    };

    let service_root = state.service_root();
    let page = Page {
        context: context_url(&service_root, &config.entity_set, select),
        value,
        next_link: last_key_if_more.map(|last| {
            format!(
                "{service_root}/{}?{}",
                config.entity_set,
                query::next_page_query(query, last)
            )
        }),
    };
    bump(&state.stats.reads);
    let response = SimResponse::json(StatusCode::OK, &page);
    Ok(match asked {
        Some(_) => response.with_header(
            PREFERENCE_APPLIED,
            &format!("odata.maxpagesize={page_size}"),
        ),
        None => response,
    })
}

/// One record by id or alternate key; only `$select` applies.
pub(crate) fn record(
    state: &SimState,
    key: &RecordKey,
    query: Option<&str>,
) -> Result<SimResponse, ApiError> {
    let options = QueryOptions::parse(query)?;
    if !options.filter.is_empty() || options.after.is_some() {
        return Err(ApiError::bad_request(
            "$filter and $skiptoken apply to collections, not to one record.",
        ));
    }
    let config = &state.config;
    let select = options.select.as_deref();
    let found = {
        let store = state.store();
        let point = state.read_point(&store);
        records::resolve(&store, key, point)
            .and_then(|id| store.row(id, point))
            .map(|row| (records::shape(row, select, &config.primary_key), row.etag()))
    };
    let Some((mut shaped, etag)) = found else {
        return Err(not_found(state, key));
    };
    let context = format!(
        "{}/$entity",
        context_url(&state.service_root(), &config.entity_set, select)
    );
    shaped.insert("@odata.context".to_owned(), context.into());
    Ok(SimResponse::json(StatusCode::OK, &shaped).with_header(header::ETAG, &etag))
}

/// Dataverse's answer for a key that matches no record.
pub(crate) fn not_found(state: &SimState, key: &RecordKey) -> ApiError {
    let entity = state.entity_logical_name();
    let message = match key {
        RecordKey::Id(id) => format!("{entity} With Id = {id} Does Not Exist"),
        RecordKey::Alternate { .. } => {
            format!("A record with the specified key values does not exist in {entity} entity")
        }
    };
    ApiError::new(StatusCode::NOT_FOUND, codes::OBJECT_DOES_NOT_EXIST, message)
}
