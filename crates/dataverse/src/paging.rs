//! Reading an entity set page by page: `Prefer: odata.maxpagesize` and `@odata.nextLink`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::DataverseError;

/// Dataverse ignores `odata.maxpagesize` above this.
pub const MAX_PAGE_SIZE: u32 = 5000;

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// The first page of `entity_set`, with only the `select`ed columns (all when empty),
    /// optionally filtered by an OData `$filter` expression, `page_size` records at most
    /// (1..=[`MAX_PAGE_SIZE`]).
    First {
        entity_set: String,
        select: Vec<String>,
        filter: Option<String>,
        page_size: u32,
    },
    /// A following page: the server's `@odata.nextLink`, followed unchanged. It carries the page
    /// size too, because Dataverse wants the same `odata.maxpagesize` on every page of a query.
    Next { link: String, page_size: u32 },
}

/// One page of records, and how to get the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<Map<String, Value>>,
    pub next: Option<PageRequest>,
}

/// Encodes query values so `&`, `=`, `#`, `+` and spaces in a filter cannot change the query's
/// structure; keeps the characters OData expressions are made of readable.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b',');

impl PageRequest {
    pub(crate) fn page_size(&self) -> u32 {
        match self {
            Self::First { page_size, .. } | Self::Next { page_size, .. } => *page_size,
        }
    }

    /// The URL to GET. Refuses (before anything is sent) an out-of-range page size, an empty
    /// entity set, and a next link pointing at another origin, which would leak the bearer token.
    pub(crate) fn url(&self, web_api_root: &Url) -> Result<Url, DataverseError> {
        let page_size = self.page_size();
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(DataverseError::not_sent(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}"
            )));
        }
        match self {
            Self::First {
                entity_set,
                select,
                filter,
                ..
            } => first_page_url(web_api_root, entity_set, select, filter.as_deref()),
            Self::Next { link, .. } => next_page_url(web_api_root, link),
        }
    }
}

fn first_page_url(
    web_api_root: &Url,
    entity_set: &str,
    select: &[String],
    filter: Option<&str>,
) -> Result<Url, DataverseError> {
    if entity_set.trim().is_empty() {
        return Err(DataverseError::not_sent("entity_set must not be empty"));
    }
    let mut query = Vec::new();
    if !select.is_empty() {
        let columns: Vec<String> = select
            .iter()
            .map(|column| utf8_percent_encode(column, QUERY_VALUE).to_string())
            .collect();
        query.push(format!("$select={}", columns.join(",")));
    }
    if let Some(filter) = filter.filter(|filter| !filter.trim().is_empty()) {
        query.push(format!(
            "$filter={}",
            utf8_percent_encode(filter, QUERY_VALUE)
        ));
    }
    let mut relative = utf8_percent_encode(entity_set, QUERY_VALUE).to_string();
    if !query.is_empty() {
        relative.push('?');
        relative.push_str(&query.join("&"));
    }
    web_api_root
        .join(&relative)
        .map_err(|err| DataverseError::not_sent(format!("cannot build the query URL: {err}")))
}

fn next_page_url(web_api_root: &Url, link: &str) -> Result<Url, DataverseError> {
    let url = web_api_root
        .join(link)
        .map_err(|err| DataverseError::not_sent(format!("unusable @odata.nextLink: {err}")))?;
    if url.origin() != web_api_root.origin() {
        return Err(DataverseError::not_sent(format!(
            "@odata.nextLink points to another origin ({}); not sending the access token there",
            url.origin().ascii_serialization()
        )));
    }
    Ok(url)
}

/// The JSON body of a collection response.
#[derive(Deserialize)]
pub(crate) struct PageBody {
    value: Vec<Map<String, Value>>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

impl PageBody {
    pub(crate) fn into_page(self, page_size: u32) -> Page {
        Page {
            records: self.value,
            next: self
                .next_link
                .map(|link| PageRequest::Next { link, page_size }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Url {
        Url::parse("https://org.example/api/data/v9.2/").unwrap()
    }

    fn first(filter: Option<&str>, page_size: u32) -> PageRequest {
        PageRequest::First {
            entity_set: "contacts".to_owned(),
            select: vec!["contactid".to_owned(), "hlf_showonwebsite".to_owned()],
            filter: filter.map(str::to_owned),
            page_size,
        }
    }

    #[test]
    fn first_page_url_has_select_and_filter() {
        let url = first(Some("statecode eq 0 and hlf_memberno ne null"), 100)
            .url(&root())
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://org.example/api/data/v9.2/contacts?$select=contactid,hlf_showonwebsite&$filter=statecode%20eq%200%20and%20hlf_memberno%20ne%20null"
        );
    }

    #[test]
    fn filter_characters_cannot_break_the_query() {
        let url = first(Some("name eq 'a&b=c#d+e'"), 10).url(&root()).unwrap();
        let filter = url
            .query_pairs()
            .find(|(name, _)| name == "$filter")
            .map(|(_, value)| value.into_owned());
        assert_eq!(filter.as_deref(), Some("name eq 'a&b=c#d+e'"));
        assert_eq!(url.fragment(), None);
    }

    #[test]
    fn without_select_or_filter_there_is_no_query() {
        let request = PageRequest::First {
            entity_set: "contacts".to_owned(),
            select: Vec::new(),
            filter: None,
            page_size: 1,
        };
        assert_eq!(
            request.url(&root()).unwrap().as_str(),
            "https://org.example/api/data/v9.2/contacts"
        );
    }

    #[test]
    fn page_size_must_be_1_to_5000() {
        for bad in [0, 5001] {
            let err = first(None, bad).url(&root()).unwrap_err();
            assert!(
                matches!(&err, DataverseError::Permanent { status: DataverseError::STATUS_NOT_SENT, detail } if detail.contains(&bad.to_string())),
                "{err:?}"
            );
        }
        assert!(first(None, 5000).url(&root()).is_ok());
    }

    #[test]
    fn next_links_are_followed_unchanged_on_the_same_origin_only() {
        let link = "https://org.example/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%3E";
        let next = PageRequest::Next {
            link: link.to_owned(),
            page_size: 5,
        };
        assert_eq!(next.url(&root()).unwrap().as_str(), link);

        let elsewhere = PageRequest::Next {
            link: "https://evil.example/api/data/v9.2/contacts?$skiptoken=1".to_owned(),
            page_size: 5,
        };
        assert!(matches!(
            elsewhere.url(&root()),
            Err(DataverseError::Permanent { status: 0, .. })
        ));
    }

    #[test]
    fn page_bodies_carry_the_page_size_into_the_next_request() {
        let body: PageBody = serde_json::from_str(
            r#"{"@odata.context":"x","value":[{"contactid":"1"},{"contactid":"2"}],"@odata.nextLink":"https://org.example/next"}"#,
        )
        .unwrap();
        let page = body.into_page(2);
        assert_eq!(page.records.len(), 2);
        assert_eq!(
            page.next,
            Some(PageRequest::Next {
                link: "https://org.example/next".to_owned(),
                page_size: 2
            })
        );

        let last: PageBody = serde_json::from_str(r#"{"value":[]}"#).unwrap();
        assert_eq!(last.into_page(2).next, None);
    }
}
