//! Durations in the configuration. A key names its unit (`lease_seconds`, `retry_budget_hours`) and
//! takes a number in it, as it always has: whole numbers, or fractions where the key allows them
//! (`credential_check_minutes = 0.5`). It also takes a duration with its units written out, in
//! quotes: `"2m"`, `"1h 30m"`, `"90s"` (the `humantime` format).
//!
//! Use with `#[serde(deserialize_with = "duration::seconds")]` (or `minutes`, `hours`,
//! `fractional_minutes`).

use std::fmt;
use std::time::Duration;

use serde::Deserializer;
use serde::de::{self, Unexpected, Visitor};

pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(InUnit::whole("seconds", 1))
}

pub fn minutes<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(InUnit::whole("minutes", 60))
}

pub fn hours<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(InUnit::whole("hours", 3600))
}

/// Minutes, fractions allowed (`0.5` is thirty seconds).
pub fn fractional_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(InUnit {
        fractions: true,
        ..InUnit::whole("minutes", 60)
    })
}

/// A number of `name` (each `seconds` long), or a humantime duration.
struct InUnit {
    name: &'static str,
    seconds: u64,
    fractions: bool,
}

impl InUnit {
    fn whole(name: &'static str, seconds: u64) -> Self {
        InUnit {
            name,
            seconds,
            fractions: false,
        }
    }

    fn of_number<E: de::Error>(&self, value: f64, unexpected: Unexpected) -> Result<Duration, E> {
        if value < 0.0 {
            return Err(E::invalid_value(unexpected, self));
        }
        Duration::try_from_secs_f64(value * self.seconds as f64)
            .map_err(|_| E::invalid_value(unexpected, self))
    }
}

impl<'de> Visitor<'de> for InUnit {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let number = if self.fractions {
            "a number"
        } else {
            "a whole number"
        };
        write!(
            f,
            "{number} of {} or a duration such as \"90s\", \"2m\" or \"1h 30m\"",
            self.name
        )
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        value
            .checked_mul(self.seconds)
            .map(Duration::from_secs)
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(value), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
        if !self.fractions {
            return Err(E::invalid_type(Unexpected::Float(value), &self));
        }
        self.of_number(value, Unexpected::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
        let trimmed = value.trim();
        // A number in quotes (as environment variables may arrive) is a number of the key's unit.
        if let Ok(whole) = trimmed.parse::<u64>() {
            return self.visit_u64(whole);
        }
        if self.fractions
            && let Ok(number) = trimmed.parse::<f64>()
        {
            return self.of_number(number, Unexpected::Str(value));
        }
        humantime::parse_duration(trimmed)
            .map_err(|_| E::invalid_value(Unexpected::Str(value), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde::de::value::{Error, F64Deserializer, I64Deserializer, StrDeserializer};

    fn whole_seconds(d: impl Deserializer<'static, Error = Error>) -> Result<Duration, Error> {
        seconds(d)
    }

    #[test]
    fn numbers_are_counted_in_the_key_unit() {
        assert_eq!(
            whole_seconds(I64Deserializer::<Error>::new(120)).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            hours(I64Deserializer::<Error>::new(24)).unwrap(),
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(
            fractional_minutes(F64Deserializer::<Error>::new(0.5)).unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            minutes(StrDeserializer::<Error>::new("60")).unwrap(),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn durations_with_units_are_read_as_written() {
        assert_eq!(
            whole_seconds(StrDeserializer::<Error>::new("2m")).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            hours(StrDeserializer::<Error>::new("1h 30m")).unwrap(),
            Duration::from_secs(5400)
        );
    }

    #[test]
    fn the_rest_is_refused_saying_what_is_expected() {
        let negative = whole_seconds(I64Deserializer::<Error>::new(-1)).unwrap_err();
        assert!(
            negative
                .to_string()
                .contains("a whole number of seconds or a duration such as"),
            "{negative}"
        );
        assert!(whole_seconds(F64Deserializer::<Error>::new(1.5)).is_err());
        assert!(fractional_minutes(F64Deserializer::<Error>::new(-0.5)).is_err());
        assert!(whole_seconds(StrDeserializer::<Error>::new("soon")).is_err());
        assert!(hours(I64Deserializer::<Error>::new(i64::MAX)).is_err());
    }

    #[test]
    fn works_as_a_serde_field() {
        #[derive(Deserialize)]
        struct Section {
            #[serde(deserialize_with = "seconds")]
            lease_seconds: Duration,
        }
        let section: Section = serde_json::from_str(r#"{"lease_seconds": 120}"#).unwrap();
        assert_eq!(section.lease_seconds, Duration::from_secs(120));
        let section: Section = serde_json::from_str(r#"{"lease_seconds": "2m"}"#).unwrap();
        assert_eq!(section.lease_seconds, Duration::from_secs(120));
    }
}
