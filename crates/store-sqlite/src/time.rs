//! Instants as SQLite stores them: TEXT in one fixed RFC 3339 form (microseconds, `Z`), so comparing
//! the text compares the time. sqlx's own encoding of `DateTime<Utc>` drops trailing zero digits,
//! which would break that order, so every instant is bound through [`Ts`]. Reading uses sqlx's decoder.
//!
//! SQLite has no server clock: "now" is this process's clock, the only writer of the file.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo};

/// An instant bound as fixed-width RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl Ts {
    pub(crate) fn now() -> Ts {
        Ts(Utc::now())
    }

    /// `now + duration` (saturating at the far future for absurd durations).
    pub(crate) fn in_(duration: std::time::Duration) -> Ts {
        let now = Utc::now();
        Ts(chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// `now - duration` (saturating at the distant past).
    pub(crate) fn ago(duration: std::time::Duration) -> Ts {
        let now = Utc::now();
        Ts(chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    pub(crate) fn text(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(at: DateTime<Utc>) -> Ts {
        Ts(at)
    }
}

impl sqlx::Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<'q, Sqlite>>::encode(self.text(), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn text_is_fixed_width_so_text_order_is_time_order() {
        let whole = Ts(Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap());
        let later = Ts(whole.0 + chrono::Duration::microseconds(500));
        assert_eq!(whole.text(), "2026-11-30T05:00:00.000000Z");
        assert_eq!(later.text(), "2026-11-30T05:00:00.000500Z");
        assert!(whole.text() < later.text());
    }
}
