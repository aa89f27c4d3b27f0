//! Query options of a read: `$select`, a simple `$filter`, and the opaque `$skiptoken` of the next
//! page. Other `$` options are refused with 400 (as Dataverse refuses `$skip`) rather than ignored,
//! so a client never mistakes an unsupported option for an empty result.

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;
use uuid::Uuid;

use crate::odata::literal;
use crate::response::ApiError;
use crate::store::Fields;

#[derive(Debug, Default, PartialEq)]
pub(crate) struct QueryOptions {
    /// `$select`: the columns to return (the primary key always comes along).
    pub(crate) select: Option<Vec<String>>,
    /// `$filter`: comparisons that must all hold.
    pub(crate) filter: Vec<Comparison>,
    /// `$skiptoken`: the page starts after this primary key.
    pub(crate) after: Option<Uuid>,
}

/// `column eq literal` or `column ne literal`.
#[derive(Debug, PartialEq)]
pub(crate) struct Comparison {
    column: String,
    negated: bool,
    value: Value,
}

impl QueryOptions {
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut options = QueryOptions::default();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in pairs(query.unwrap_or_default()) {
            let name = decode(name)?;
            if !name.starts_with('$') {
                continue;
            }
            if seen.contains(&name) {
                return Err(ApiError::bad_request(format!(
                    "Query option '{name}' was specified more than once."
                )));
            }
            let value = decode(value)?;
            match name.as_str() {
                "$select" => options.select = Some(parse_select(&value)?),
                "$filter" => options.filter = parse_filter(&value)?,
                "$skiptoken" => options.after = Some(decode_skiptoken(&value)?),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "The query option '{name}' is not supported by the simulator \
                         (supported: $select, $filter, $skiptoken)."
                    )));
                }
            }
            seen.push(name);
        }
        Ok(options)
    }

    pub(crate) fn matches(&self, fields: &Fields) -> bool {
        self.filter.iter().all(|comparison| {
            literal::equals(fields.get(&comparison.column), &comparison.value) != comparison.negated
        })
    }
}

/// The query of the next page's link: the request's own options as sent, with a new `$skiptoken`.
pub(crate) fn next_page_query(query: Option<&str>, last: Uuid) -> String {
    let mut kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            decode(name).map_or(true, |name| name != "$skiptoken")
        })
        .collect();
    let token = format!("$skiptoken={}", encode_skiptoken(last));
    kept.push(&token);
    kept.join("&")
}

fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Query strings use form encoding: `+` is a space, then percent-escapes.
fn decode(text: &str) -> Result<String, ApiError> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ApiError::bad_request("The query string is not valid UTF-8."))
}

fn parse_select(value: &str) -> Result<Vec<String>, ApiError> {
    let columns: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
        .map(str::to_owned)
        .collect();
    if columns.is_empty() {
        return Err(ApiError::bad_request("$select names no column."));
    }
    Ok(columns)
}

// Looks like Dataverse's paging cookie, so clients treat it as opaque; the simulator only needs
// the last key of the page.
const SKIPTOKEN_PREFIX: &str = "<cookie lastkey=\"";
const SKIPTOKEN_SUFFIX: &str = "\" />";

fn encode_skiptoken(last: Uuid) -> String {
    let cookie = format!("{SKIPTOKEN_PREFIX}{last}{SKIPTOKEN_SUFFIX}");
    utf8_percent_encode(&cookie, NON_ALPHANUMERIC).to_string()
}

fn decode_skiptoken(token: &str) -> Result<Uuid, ApiError> {
    token
        .strip_prefix(SKIPTOKEN_PREFIX)
        .and_then(|rest| rest.strip_suffix(SKIPTOKEN_SUFFIX))
        .and_then(|key| Uuid::parse_str(key).ok())
        .ok_or_else(|| ApiError::bad_request("The $skiptoken is not valid."))
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
}

/// `$filter` support is deliberately small: `column eq|ne literal`, joined by `and`.
fn parse_filter(text: &str) -> Result<Vec<Comparison>, ApiError> {
    let unsupported = || {
        ApiError::bad_request(format!(
            "The filter '{text}' is not supported by the simulator \
             (supported: column eq|ne literal, joined by 'and')."
        ))
    };
    let tokens = tokenize(text).map_err(ApiError::bad_request)?;
    let mut comparisons = Vec::new();
    let mut rest = tokens.as_slice();
    loop {
        let [
            Token::Word(column),
            Token::Word(operator),
            operand,
            tail @ ..,
        ] = rest
        else {
            return Err(unsupported());
        };
        let negated = match operator.as_str() {
            "eq" => false,
            "ne" => true,
            _ => return Err(unsupported()),
        };
        let value = match operand {
            Token::Quoted(text) => Value::String(text.clone()),
            Token::Word(word) => literal::parse_bare(word).ok_or_else(unsupported)?,
        };
        comparisons.push(Comparison {
            column: column.clone(),
            negated,
            value,
        });
        match tail {
            [] => return Ok(comparisons),
            [Token::Word(and), more @ ..] if and == "and" => rest = more,
            _ => return Err(unsupported()),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('\'') {
            let (value, after) = literal::parse_quoted(rest)?;
            tokens.push(Token::Quoted(value));
            rest = after;
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            tokens.push(Token::Word(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => Fields::new(),
        }
    }

    #[test]
    fn select_filter_and_skiptoken_are_read_with_form_decoding() {
        let last = Uuid::new_v4();
        let query = format!(
            "$select=a,%20b&$filter=name+eq+'O''Hara'%20and%20shown%20ne%20true&{}&api-version=1",
            next_page_query(None, last)
        );
        let options = QueryOptions::parse(Some(&query)).map_err(|e| e.message);
        let options = options.as_ref().expect("valid query");
        assert_eq!(options.select, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(options.after, Some(last));
        assert!(options.matches(&fields(json!({"name": "o'hara", "shown": false}))));
        assert!(!options.matches(&fields(json!({"name": "o'hara", "shown": true}))));
        assert!(!options.matches(&fields(json!({"name": "Other"}))));
    }

    #[test]
    fn the_next_page_query_keeps_the_options_and_replaces_the_token() {
        let first = Uuid::from_u128(1);
        let second = Uuid::from_u128(2);
        let query = next_page_query(Some("$select=a%2Cb"), first);
        let next = next_page_query(Some(&query), second);
        assert!(next.starts_with("$select=a%2Cb&$skiptoken="), "{next}");
        let options = QueryOptions::parse(Some(&next)).map_err(|e| e.message);
        assert_eq!(options.map(|o| o.after), Ok(Some(second)));
    }

    #[test]
    fn unsupported_options_and_filters_are_400() {
        for query in [
            "$skip=10",
            "$top=1",
            "$select=",
            "$select=a&$select=b",
            "$filter=contains(name,'x')",
            "$filter=a gt 1",
            "$filter=a eq b",
            "$filter=a eq 1 or b eq 2",
            "$filter=a eq 'open",
            "$skiptoken=abc",
        ] {
            assert!(QueryOptions::parse(Some(query)).is_err(), "{query}");
        }
    }
}
