//! The `Prefer` header preferences the simulator honours. Like any OData service it ignores
//! preferences it does not know or cannot read: they are hints, not commands.

use axum::http::HeaderMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Preferences {
    /// `odata.maxpagesize=N`.
    pub(crate) max_page_size: Option<usize>,
    /// `odata.continue-on-error` (also without the `odata.` prefix, as OData 4.01 allows).
    pub(crate) continue_on_error: bool,
}

impl Preferences {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut preferences = Preferences::default();
        let items = headers
            .get_all("prefer")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for item in items {
            let (name, value) = match item.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (item.trim(), None),
            };
            match name.to_ascii_lowercase().as_str() {
                "odata.maxpagesize" | "maxpagesize" => {
                    preferences.max_page_size = value
                        .and_then(|v| v.parse::<usize>().ok())
                        .filter(|&size| size > 0);
                }
                "odata.continue-on-error" | "continue-on-error" => {
                    preferences.continue_on_error =
                        value.is_none_or(|v| v.eq_ignore_ascii_case("true"));
                }
                _ => {}
            }
        }
        preferences
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn prefer(values: &[&'static str]) -> Preferences {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_static(value));
        }
        Preferences::from_headers(&headers)
    }

    #[test]
    fn reads_both_preferences_from_one_or_several_headers() {
        let expected = Preferences {
            max_page_size: Some(5),
            continue_on_error: true,
        };
        assert_eq!(
            prefer(&["odata.continue-on-error, odata.maxpagesize=5"]),
            expected
        );
        assert_eq!(
            prefer(&[
                "odata.maxpagesize=\"5\"",
                "odata.include-annotations=\"*\"",
                "continue-on-error=true"
            ]),
            expected
        );
    }

    #[test]
    fn unreadable_or_negative_preferences_are_ignored() {
        assert_eq!(
            prefer(&["odata.maxpagesize=lots", "odata.continue-on-error=false"]),
            Preferences::default()
        );
        assert_eq!(prefer(&["odata.maxpagesize=0"]), Preferences::default());
    }
}
