//! The languages messages are written in, and how each writes a date.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A language of emails and notices: Norwegian Bokmål (HLF's, the default) or English.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    Nb,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Nb, Locale::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Nb => "nb",
            Locale::En => "en",
        }
    }

    pub fn parse(code: &str) -> Result<Locale, DomainError> {
        match code {
            "nb" => Ok(Locale::Nb),
            "en" => Ok(Locale::En),
            other => Err(DomainError::UnknownLocale(other.to_owned())),
        }
    }

    /// A date as people of this language write it: `31.07.2026` in nb, `31 July 2026` in en.
    pub fn date(self, date: NaiveDate) -> String {
        match self {
            Locale::Nb => date.format("%d.%m.%Y").to_string(),
            Locale::En => format!("{} {}", date.day(), date.format("%B %Y")),
        }
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Locale {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Locale::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_the_local_way() {
        let date = NaiveDate::from_ymd_opt(2026, 7, 31).unwrap();
        assert_eq!(Locale::Nb.date(date), "31.07.2026");
        assert_eq!(Locale::En.date(date), "31 July 2026");
        assert_eq!(
            Locale::Nb.date(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap()),
            "05.01.2027"
        );
    }

    #[test]
    fn codes_round_trip_and_others_are_named() {
        for locale in Locale::ALL {
            assert_eq!(Locale::parse(locale.as_str()), Ok(locale));
        }
        assert!(
            Locale::parse("sv")
                .unwrap_err()
                .to_string()
                .contains("`sv`")
        );
    }
}
