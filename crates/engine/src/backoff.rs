//! Retry delays after transient failures (the listing relay's, the email and webhook senders'):
//! exponential, capped, with jitter so that senders of several instances, and items that failed
//! together, do not retry in lockstep.

use std::time::Duration;

/// The delay before attempt `attempts + 1`: `initial · 2^attempts`, capped at `max`, then a random
/// point in its upper half.
pub(crate) fn retry_delay(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let exponential = initial
        .checked_mul(1u32.checked_shl(attempts.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let half = exponential / 2;
    half + half.mul_f64(unit_random())
}

/// A uniform number in [0, 1) from the operating system's randomness (a v4 UUID's random bits), so
/// no random-number crate is needed for jitter.
fn unit_random() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stay_in_the_upper_half() {
        let initial = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        for attempts in 0..40 {
            let full = initial
                .saturating_mul(2u32.saturating_pow(attempts))
                .min(max);
            for _ in 0..20 {
                let delay = retry_delay(attempts, initial, max);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "{attempts}: {delay:?} vs {full:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let delays: std::collections::HashSet<Duration> = (0..50)
            .map(|_| retry_delay(3, Duration::from_secs(10), Duration::from_secs(3600)))
            .collect();
        assert!(delays.len() > 40);
    }
}
