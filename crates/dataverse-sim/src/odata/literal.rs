//! OData literals as they appear in keys and filters (`'text'` with doubled quotes, `true`, `42`,
//! a bare GUID), and how they compare with stored values.

use serde_json::Value;
use uuid::Uuid;

/// Reads a single-quoted string at the start of `text` (`''` stands for one quote); returns the
/// string and what follows the closing quote.
pub(crate) fn parse_quoted(text: &str) -> Result<(String, &str), String> {
    let Some(body) = text.strip_prefix('\'') else {
        return Err(format!("expected a quoted string at `{text}`"));
    };
    let mut value = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if chars.peek().is_some_and(|&(_, next)| next == '\'') {
            chars.next();
            value.push('\'');
        } else {
            return Ok((value, &body[at + 1..]));
        }
    }
    Err(format!("the string `{text}` has no closing quote"))
}

/// An unquoted literal: `null`, `true`, `false`, a number, or a GUID (compared as its text).
pub(crate) fn parse_bare(word: &str) -> Option<Value> {
    if let Ok(value @ (Value::Null | Value::Bool(_) | Value::Number(_))) =
        serde_json::from_str::<Value>(word)
    {
        return Some(value);
    }
    Uuid::parse_str(word)
        .ok()
        .map(|id| Value::String(id.to_string()))
}

/// Whether a stored column (missing counts as null) equals a literal. Text compares case-insensitively,
/// as Dataverse's default collation does; numbers compare by value (`5` equals `5.0`).
pub(crate) fn equals(stored: Option<&Value>, wanted: &Value) -> bool {
    match (stored.unwrap_or(&Value::Null), wanted) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quoted_strings_unescape_doubled_quotes_and_return_the_rest() {
        assert_eq!(
            parse_quoted("'O''Brien' and x"),
            Ok(("O'Brien".to_owned(), " and x"))
        );
        assert_eq!(parse_quoted("''"), Ok((String::new(), "")));
        assert!(parse_quoted("'open").is_err());
        assert!(parse_quoted("bare").is_err());
    }

    #[test]
    fn bare_literals_are_json_scalars_or_guids() {
        assert_eq!(parse_bare("true"), Some(json!(true)));
        assert_eq!(parse_bare("null"), Some(Value::Null));
        assert_eq!(parse_bare("12.5"), Some(json!(12.5)));
        assert_eq!(
            parse_bare("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
            Some(json!("6f9619ff-8b86-d011-b42d-00c04fc964ff"))
        );
        assert_eq!(parse_bare("name"), None);
        assert_eq!(parse_bare("\"quoted\""), None);
    }

    #[test]
    fn equality_follows_dataverse_collation() {
        assert!(equals(Some(&json!("Oslo")), &json!("oslo")));
        assert!(equals(Some(&json!(5)), &json!(5.0)));
        assert!(equals(None, &Value::Null));
        assert!(!equals(Some(&json!(false)), &Value::Null));
        assert!(!equals(Some(&json!("5")), &json!(5)));
    }
}
