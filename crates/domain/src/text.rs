//! Parsed text newtypes: once you hold one, it is valid.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

// Each rule below is also written as a regular expression (`PATTERN`), which the API's OpenAPI
// description publishes: a client that checks its input against the pattern and the length limit
// is never refused by `parse`, and `parse` accepts nothing else. Patterns use only character classes
// and `\uXXXX` escapes, so ECMA-262, Python and Rust regex engines read them alike. The tests prove
// the agreement on generated strings.

/// Unicode control characters (`char::is_control`, category Cc), as a class body.
macro_rules! controls {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}

/// Control characters except tab, line feed and carriage return.
macro_rules! controls_but_line_breaks {
    () => {
        r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    };
}

/// Everything that is not a visible character: controls and `char::is_whitespace`.
macro_rules! invisible {
    () => {
        r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// `char::is_whitespace`: what `str::trim` removes.
macro_rules! whitespace {
    () => {
        r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// No character of `char::is_control`.
pub const NO_CONTROL_PATTERN: &str = concat!("^[^", controls!(), "]*$");

/// Somewhere a character that is neither whitespace nor a control character (unanchored).
pub const HAS_VISIBLE_PATTERN: &str = concat!("[^", invisible!(), "]");

/// The OpenAPI schema of a text rule: a string of at most `max_chars` characters matching `pattern`.
fn text_schema(
    max_chars: usize,
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .min_length(Some(1))
        .max_length(Some(max_chars))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

macro_rules! text_schema {
    ($name:ident, $description:literal) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                text_schema(Self::MAX_CHARS, Self::PATTERN, $description)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// Whether `value` has a character that is neither whitespace nor a control character.
fn has_visible(value: &str) -> bool {
    value.chars().any(|c| !c.is_whitespace() && !c.is_control())
}

fn char_len_between(value: &str, min: usize, max: usize, what: &str) -> Result<(), TextError> {
    let len = value.chars().count();
    if len < min {
        return Err(TextError(if min == 1 {
            format!("{what} must not be empty")
        } else {
            format!("{what} must be at least {min} characters")
        }));
    }
    if len > max {
        return Err(TextError(format!(
            "{what} must be at most {max} characters (got {len})"
        )));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_newtype!(
    /// Why a mentor was paused or deactivated: at most 500 characters with a visible one among them,
    /// no control characters but tabs and line breaks; kept trimmed.
    Reason
);

impl Reason {
    pub const MAX_CHARS: usize = 500;
    pub const PATTERN: &str = concat!(
        "^[^",
        controls_but_line_breaks!(),
        "]*[^",
        invisible!(),
        "][^",
        controls_but_line_breaks!(),
        "]*$"
    );

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        char_len_between(raw, 0, Self::MAX_CHARS, "reason")?;
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(TextError(
                "reason must not contain control characters other than tabs and line breaks".into(),
            ));
        }
        if !has_visible(raw) {
            return Err(TextError("reason must not be empty".into()));
        }
        Ok(Self(raw.trim().to_owned()))
    }
}

text_schema!(
    Reason,
    "At most 500 characters, not blank, no control characters but tabs and line breaks; kept trimmed."
);

text_newtype!(
    /// A person's display name: at most 200 characters with a visible one among them, no control
    /// characters; kept trimmed.
    FullName
);

impl FullName {
    pub const MAX_CHARS: usize = 200;
    pub const PATTERN: &str = concat!(
        "^[^",
        controls!(),
        "]*[^",
        invisible!(),
        "][^",
        controls!(),
        "]*$"
    );

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        char_len_between(raw, 0, Self::MAX_CHARS, "full_name")?;
        if raw.chars().any(char::is_control) {
            return Err(TextError(
                "full_name must not contain control characters".into(),
            ));
        }
        if !has_visible(raw) {
            return Err(TextError("full_name must not be empty".into()));
        }
        Ok(Self(raw.trim().to_owned()))
    }
}

text_schema!(
    FullName,
    "At most 200 characters, not blank, no control characters; kept trimmed."
);

text_newtype!(
    /// An email address, lower-cased. Checked for shape only; delivery proves the rest: at most 254
    /// characters (surrounding whitespace, which is trimmed, included), 1–64 characters before the
    /// one `@`, a domain of two or more dot-separated labels that neither start nor end with `-`, and
    /// no whitespace or control character inside.
    Email
);

impl Email {
    pub const MAX_CHARS: usize = 254;
    pub const PATTERN: &str = concat!(
        "^[",
        whitespace!(),
        "]*[^@",
        invisible!(),
        "]{1,64}@",
        "[^@.\\-",
        invisible!(),
        "]([^@.",
        invisible!(),
        "]*[^@.\\-",
        invisible!(),
        "])?",
        "(\\.[^@.\\-",
        invisible!(),
        "]([^@.",
        invisible!(),
        "]*[^@.\\-",
        invisible!(),
        "])?)+[",
        whitespace!(),
        "]*$"
    );

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        let invalid =
            |why: &str| TextError(format!("`{}` is not a valid email address: {why}", trimmed));
        if trimmed.is_empty() {
            return Err(TextError("email must not be empty".into()));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(invalid("longer than 254 characters"));
        }
        // Lower-cased character by character, where that keeps one character (İ would become two),
        // so the limits above hold for the stored address too.
        let value: String = trimmed
            .chars()
            .map(|c| {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            })
            .collect();
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace"));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(invalid("missing @"));
        };
        if local.is_empty() || local.chars().count() > 64 {
            return Err(invalid("the part before @ must be 1–64 characters"));
        }
        if domain.contains('@') {
            return Err(invalid("more than one @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(invalid("the domain must look like example.org"));
        }
        Ok(Self(value))
    }
}

text_schema!(
    Email,
    "An email address: 1–64 characters before the one `@`, a domain like example.org, no \
     whitespace inside, at most 254 characters; kept trimmed and lower-cased."
);

text_newtype!(
    /// A phone number as people write it: digits, spaces and `+ - ( )`, at most 32 characters, at
    /// least 3 digits; kept trimmed.
    Phone
);

impl Phone {
    pub const MAX_CHARS: usize = 32;
    pub const PATTERN: &str = "^[ +()\\-]*[0-9][ +()\\-]*[0-9][ +()\\-]*[0-9][0-9 +()\\-]*$";
    /// A phone field: blank (empty or only spaces: no phone) or a phone number.
    pub const OPTIONAL_PATTERN: &str =
        "^( *|[ +()\\-]*[0-9][ +()\\-]*[0-9][ +()\\-]*[0-9][0-9 +()\\-]*)$";

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        char_len_between(raw, 0, Self::MAX_CHARS, "phone")?;
        if !raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'))
        {
            return Err(TextError(
                "phone may contain only digits, spaces and + - ( )".into(),
            ));
        }
        if raw.chars().filter(char::is_ascii_digit).count() < 3 {
            return Err(TextError("phone must contain at least 3 digits".into()));
        }
        Ok(Self(raw.trim().to_owned()))
    }

    /// A phone field as clients send it: blank (empty or only spaces) is no phone.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, TextError> {
        char_len_between(raw, 0, Self::MAX_CHARS, "phone")?;
        if raw.chars().all(|c| c == ' ') {
            return Ok(None);
        }
        Self::parse(raw).map(Some)
    }
}

text_newtype!(
    /// An organisation's short name in URLs and configuration: `a-z`, `0-9`, `-`, `_`; 2–40 characters.
    OrgSlug
);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        char_len_between(raw, 2, 40, "slug")?;
        let starts_alnum = raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_alnum
            || !raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(TextError(format!(
                "slug `{raw}` must start with a-z or 0-9 and contain only a-z, 0-9, - and _"
            )));
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reason_is_trimmed_and_bounded() {
        assert_eq!(Reason::parse("  ferie ").unwrap().as_str(), "ferie");
        assert!(Reason::parse("").is_err());
        assert!(Reason::parse("   ").is_err());
        assert!(Reason::parse(&"x".repeat(500)).is_ok());
        let err = Reason::parse(&"x".repeat(501)).unwrap_err();
        assert!(err.0.contains("500"), "{err}");
        // Characters, not bytes: 500 Norwegian letters of two bytes each are fine.
        assert!(Reason::parse(&"æ".repeat(500)).is_ok());
    }

    #[test]
    fn emails_are_lower_cased_and_shaped() {
        assert_eq!(
            Email::parse(" Kari@Example.NO ").unwrap().as_str(),
            "kari@example.no"
        );
        for bad in [
            "",
            "kari",
            "kari@",
            "@example.no",
            "kari@example",
            "ka ri@example.no",
            "a@b@c.no",
            "kari@-x.no",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn phones_and_slugs() {
        assert!(Phone::parse("+47 22 33 44 55").is_ok());
        assert!(Phone::parse("call me").is_err());
        assert!(OrgSlug::parse("hlf").is_ok());
        assert!(OrgSlug::parse("HLF").is_err());
        assert!(OrgSlug::parse("-hlf").is_err());
    }

    #[test]
    fn deserialising_validates() {
        let err = serde_json::from_str::<Reason>("\"\"");
        assert!(err.is_err());
    }

    proptest! {
        #[test]
        fn any_reason_of_1_to_500_visible_chars_parses(s in "[a-zæøå0-9][a-zæøå0-9 ]{0,498}[a-zæøå0-9]?") {
            let parsed = Reason::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.trim());
        }
    }

    // The published patterns (with their length limits) accept exactly what `parse` accepts.

    fn pattern(source: &'static str) -> regex::Regex {
        static COMPILED: std::sync::Mutex<Vec<(&str, regex::Regex)>> =
            std::sync::Mutex::new(Vec::new());
        let mut compiled = COMPILED.lock().unwrap();
        if let Some((_, re)) = compiled.iter().find(|(s, _)| *s == source) {
            return re.clone();
        }
        let re = regex::Regex::new(source).unwrap();
        compiled.push((source, re.clone()));
        re
    }

    /// Characters where the rules draw their lines, and any character at all.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(vec![
                'a', 'Z', 'æ', 'İ', '0', '7', ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{0}',
                '\u{1c}', '\u{7f}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2003}', '\u{2028}',
                '\u{202f}', '\u{3000}', '\u{feff}', '\u{200b}', '@', '.', '-', '+', '(', ')', ':',
            ]),
            1 => any::<char>(),
        ]
    }

    fn tricky_string(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(tricky_char(), 0..max).prop_map(|c| c.into_iter().collect())
    }

    /// Lengths near a limit: filler of `fill` around a tricky core.
    fn near_limit(limit: usize, fill: char) -> impl Strategy<Value = String> {
        (tricky_string(6), limit - 4..limit + 4, any::<bool>()).prop_map(
            move |(core, len, front)| {
                let filler: String =
                    std::iter::repeat_n(fill, len.saturating_sub(core.chars().count())).collect();
                if front {
                    filler + &core
                } else {
                    core + &filler
                }
            },
        )
    }

    fn email_like() -> impl Strategy<Value = String> {
        let part = || {
            prop::collection::vec(
                prop::sample::select(vec![
                    'a', 'İ', '-', '.', '@', ' ', '\t', '\u{a0}', '\u{1c}', 'ø',
                ]),
                0..8,
            )
        };
        (part(), part(), part(), part()).prop_map(|(a, b, c, d)| {
            let s = |v: Vec<char>| v.into_iter().collect::<String>();
            format!("{}{}@{}.{}", s(a), s(b), s(c), s(d))
        })
    }

    fn agrees(
        source: &'static str,
        max_chars: usize,
        raw: &str,
        parsed: bool,
    ) -> Result<(), TestCaseError> {
        let allowed = pattern(source).is_match(raw) && raw.chars().count() <= max_chars;
        prop_assert_eq!(allowed, parsed, "{:?}", raw);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn reason_pattern_is_the_rule(raw in prop_oneof![tricky_string(12), near_limit(Reason::MAX_CHARS, 'x'), near_limit(Reason::MAX_CHARS, ' ')]) {
            agrees(Reason::PATTERN, Reason::MAX_CHARS, &raw, Reason::parse(&raw).is_ok())?;
        }

        #[test]
        fn full_name_pattern_is_the_rule(raw in prop_oneof![tricky_string(12), near_limit(FullName::MAX_CHARS, 'x'), near_limit(FullName::MAX_CHARS, ' ')]) {
            agrees(FullName::PATTERN, FullName::MAX_CHARS, &raw, FullName::parse(&raw).is_ok())?;
        }

        #[test]
        fn email_pattern_is_the_rule(raw in prop_oneof![
            tricky_string(12),
            email_like(),
            near_limit(64, 'ø').prop_map(|s| format!("{s}@example.no")),
            near_limit(Email::MAX_CHARS - 5, 'a').prop_map(|s| format!("k@{s}.no")),
        ]) {
            agrees(Email::PATTERN, Email::MAX_CHARS, &raw, Email::parse(&raw).is_ok())?;
        }

        #[test]
        fn phone_patterns_are_the_rules(raw in prop_oneof![tricky_string(12), "[0-9 +()\\-]{0,40}", "[0-9 a]{0,6}"]) {
            agrees(Phone::PATTERN, Phone::MAX_CHARS, &raw, Phone::parse(&raw).is_ok())?;
            agrees(Phone::OPTIONAL_PATTERN, Phone::MAX_CHARS, &raw, Phone::parse_optional(&raw).is_ok())?;
        }
    }

    #[test]
    fn email_local_parts_count_characters() {
        let local = "ø".repeat(64);
        assert!(Email::parse(&format!("{local}@example.no")).is_ok());
        assert!(Email::parse(&format!("ø{local}@example.no")).is_err());
        // İ stays one character, so the stored address keeps the limits.
        assert_eq!(
            Email::parse("İ@Example.NO").unwrap().as_str(),
            "İ@example.no"
        );
    }
}
