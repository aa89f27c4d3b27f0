//! A sliding-window request limit that answers like Dataverse's service protection limits: the request
//! over the limit is refused with a `Retry-After` in whole seconds, and so is every request sent before
//! that time has passed.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// At most `requests` requests in any `window` (a sliding window). The simulator serves one client id,
/// so the limit applies to that client as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
}

/// Reads `REQUESTS/SECONDS`, e.g. `6000/300` (Dataverse's own limit).
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("'{text}' is not REQUESTS/SECONDS, e.g. 6000/300");
        let (requests, seconds) = text.split_once('/').ok_or_else(invalid)?;
        let requests = requests.trim().parse().map_err(|_| invalid())?;
        let seconds: u64 = seconds.trim().parse().map_err(|_| invalid())?;
        if seconds == 0 {
            return Err(format!(
                "the window of '{text}' must be at least one second"
            ));
        }
        Ok(RateLimit {
            requests,
            window: Duration::from_secs(seconds),
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Admitted,
    /// Refused; the client must wait this many whole seconds.
    Throttled {
        retry_after_secs: u64,
    },
}

pub(crate) struct SlidingWindow {
    limit: RateLimit,
    /// When the admitted requests of the current window arrived, oldest first.
    admitted: VecDeque<Instant>,
    /// Until when the last `Retry-After` holds.
    blocked_until: Option<Instant>,
}

impl SlidingWindow {
    pub(crate) fn new(limit: RateLimit) -> Self {
        SlidingWindow {
            limit,
            admitted: VecDeque::new(),
            blocked_until: None,
        }
    }

    /// Whether a `Retry-After` sent earlier has not elapsed yet.
    pub(crate) fn is_blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|until| now < until)
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Admission::Throttled {
                    retry_after_secs: whole_seconds(until - now),
                };
            }
            self.blocked_until = None;
        }
        let window = self.limit.window;
        while self
            .admitted
            .front()
            .is_some_and(|&arrived| now.duration_since(arrived) >= window)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < self.limit.requests as usize {
            self.admitted.push_back(now);
            return Admission::Admitted;
        }
        // The oldest admitted request leaving the window frees the next slot.
        let frees_at = self
            .admitted
            .front()
            .map_or(now + window, |&oldest| oldest + window);
        let retry_after_secs = whole_seconds(frees_at.saturating_duration_since(now));
        self.blocked_until = Some(now + Duration::from_secs(retry_after_secs));
        Admission::Throttled { retry_after_secs }
    }
}

/// `Retry-After` carries whole seconds: round up, and never say 0 (that would invite a busy loop).
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, secs: u64) -> SlidingWindow {
        SlidingWindow::new(RateLimit {
            requests,
            window: Duration::from_secs(secs),
        })
    }

    #[test]
    fn admits_up_to_the_limit_then_names_the_wait_until_a_slot_frees() {
        let start = Instant::now();
        let mut window = limit(2, 10);
        assert_eq!(window.admit(start), Admission::Admitted);
        assert_eq!(
            window.admit(start + Duration::from_secs(3)),
            Admission::Admitted
        );
        assert_eq!(
            window.admit(start + Duration::from_millis(4500)),
            Admission::Throttled {
                retry_after_secs: 6
            }
        );
    }

    #[test]
    fn requests_during_retry_after_are_refused_with_the_remaining_wait() {
        let start = Instant::now();
        let mut window = limit(1, 5);
        window.admit(start);
        window.admit(start + Duration::from_secs(1));
        let during = start + Duration::from_millis(2500);
        assert!(window.is_blocked(during));
        assert_eq!(
            window.admit(during),
            Admission::Throttled {
                retry_after_secs: 3
            }
        );
        let after = start + Duration::from_secs(5);
        assert!(!window.is_blocked(after));
        assert_eq!(window.admit(after), Admission::Admitted);
    }

    #[test]
    fn a_zero_limit_refuses_everything_for_a_whole_window() {
        let start = Instant::now();
        let mut window = limit(0, 2);
        assert_eq!(
            window.admit(start),
            Admission::Throttled {
                retry_after_secs: 2
            }
        );
    }

    #[test]
    fn parses_requests_per_seconds() {
        assert_eq!(
            "6000/300".parse(),
            Ok(RateLimit {
                requests: 6000,
                window: Duration::from_secs(300)
            })
        );
        for bad in ["6000", "x/3", "5/0", "5/-1"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_seconds_rounds_up_and_is_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }
}
