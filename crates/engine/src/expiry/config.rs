//! How the nightly expiry run behaves: thresholds, when it runs, how far ahead it notices returns.

use chrono::NaiveTime;
use domain::Thresholds;

/// The local time of day the scheduler starts the nightly run, outside 01:00–03:00 where daylight
/// saving time skips or repeats an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAt(NaiveTime);

impl RunAt {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let time = NaiveTime::parse_from_str(raw.trim(), "%H:%M")
            .map_err(|_| format!("run_at `{raw}` is not a time of day like 05:00 (HH:MM)"))?;
        let dst_start = NaiveTime::from_hms_opt(1, 0, 0).expect("valid time");
        let dst_end = NaiveTime::from_hms_opt(3, 0, 0).expect("valid time");
        if (dst_start..dst_end).contains(&time) {
            return Err(format!(
                "run_at {raw} is between 01:00 and 03:00 local time, where daylight saving time \
                 skips or repeats an hour; choose 03:00 or later (the default is 05:00)"
            ));
        }
        Ok(Self(time))
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }
}

impl std::fmt::Display for RunAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl Default for RunAt {
    fn default() -> Self {
        Self(NaiveTime::from_hms_opt(5, 0, 0).expect("valid time"))
    }
}

#[derive(Debug, Clone)]
pub struct ExpiryConfig {
    /// Days before expiry to remind at, unless an organisation overrides them.
    pub thresholds: Thresholds,
    /// Whether organisations' own thresholds (in their settings) apply.
    pub per_org_thresholds: bool,
    pub run_at: RunAt,
    /// How many days before an automatic resume the mentor is told it is coming.
    pub resume_notice_days: u16,
    /// Changes per database statement.
    pub batch_size: usize,
    /// How long a run's claim lasts without renewal (a running run renews it every third of this);
    /// another instance takes a dead run's scheduled claim over after it.
    pub lease: chrono::Duration,
    /// Which process this is, for the run log.
    pub instance: String,
}

impl Default for ExpiryConfig {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::standard(),
            per_org_thresholds: false,
            run_at: RunAt::default(),
            resume_notice_days: 3,
            batch_size: 2000,
            lease: chrono::Duration::seconds(30),
            instance: format!("pid-{}", std::process::id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_at_refuses_the_dst_hours() {
        assert_eq!(
            RunAt::parse("05:00").unwrap().time(),
            NaiveTime::from_hms_opt(5, 0, 0).unwrap()
        );
        assert!(RunAt::parse("00:59").is_ok());
        assert!(RunAt::parse("03:00").is_ok());
        for bad in ["01:00", "02:30", "02:59"] {
            let err = RunAt::parse(bad).unwrap_err();
            assert!(err.contains("daylight saving"), "{err}");
        }
        assert!(RunAt::parse("5 o'clock").unwrap_err().contains("HH:MM"));
    }

    #[test]
    fn run_at_is_written_as_it_is_read() {
        assert_eq!(RunAt::default().to_string(), "05:00");
        assert_eq!(RunAt::parse("21:05").unwrap().to_string(), "21:05");
    }
}
