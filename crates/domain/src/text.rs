//! Parsed text newtypes: once you hold one, it is valid.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

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
    /// Why a mentor was paused or deactivated: 1–500 characters after trimming.
    Reason
);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        char_len_between(trimmed, 1, Self::MAX_CHARS, "reason")?;
        Ok(Self(trimmed.to_owned()))
    }
}

text_newtype!(
    /// A person's display name: 1–200 characters after trimming, no control characters.
    FullName
);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        char_len_between(trimmed, 1, 200, "full_name")?;
        if trimmed.chars().any(char::is_control) {
            return Err(TextError(
                "full_name must not contain control characters".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

text_newtype!(
    /// An email address, lower-cased. Checked for shape only; delivery proves the rest.
    Email
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let value = raw.trim().to_lowercase();
        let invalid = |why: &str| {
            TextError(format!(
                "`{}` is not a valid email address: {why}",
                raw.trim()
            ))
        };
        if value.is_empty() {
            return Err(TextError("email must not be empty".into()));
        }
        if value.chars().count() > 254 {
            return Err(invalid("longer than 254 characters"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace"));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(invalid("missing @"));
        };
        if local.is_empty() || local.len() > 64 {
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

text_newtype!(
    /// A phone number as people write it: digits, spaces and `+ - ( )`, 3–32 characters.
    Phone
);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        char_len_between(trimmed, 3, 32, "phone")?;
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'))
        {
            return Err(TextError(
                "phone may contain only digits, spaces and + - ( )".into(),
            ));
        }
        if trimmed.chars().filter(char::is_ascii_digit).count() < 3 {
            return Err(TextError("phone must contain at least 3 digits".into()));
        }
        Ok(Self(trimmed.to_owned()))
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
}
