//! Token lifetimes as people write them: `90s`, `30m`, `1h`, `7d`.

use chrono::Duration;

/// The longest lifetime a minted token may have: a leaked token must not stay valid for long.
pub const MAX_TTL_DAYS: i64 = 30;

pub fn parse_ttl(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let invalid = || {
        format!(
            "`{raw}` is not a duration: write a number and a unit s, m, h or d, e.g. 30m, 1h, 7d"
        )
    };
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (amount, unit) = raw.split_at(split);
    // Bounded before multiplying, so a huge number is refused rather than overflowing.
    let amount: i64 = amount
        .parse()
        .ok()
        .filter(|n| *n <= MAX_TTL_DAYS * 24 * 60 * 60)
        .ok_or_else(|| {
            if amount.is_empty() {
                invalid()
            } else {
                format!("`{raw}` is longer than the maximum of {MAX_TTL_DAYS}d")
            }
        })?;
    let ttl = match unit {
        "s" => Duration::seconds(amount),
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        _ => return Err(invalid()),
    };
    if ttl <= Duration::zero() {
        return Err(format!("`{raw}` is not a positive duration"));
    }
    if ttl > Duration::days(MAX_TTL_DAYS) {
        return Err(format!(
            "`{raw}` is longer than the maximum of {MAX_TTL_DAYS}d"
        ));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse_ttl("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::hours(1));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_ttl("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_ttl("720h").unwrap(), Duration::days(30));
    }

    #[test]
    fn refuses_the_rest_saying_why() {
        assert!(parse_ttl("31d").unwrap_err().contains("maximum of 30d"));
        assert!(parse_ttl("721h").unwrap_err().contains("maximum"));
        assert!(
            parse_ttl("99999999999999999999d")
                .unwrap_err()
                .contains("maximum")
        );
        assert!(parse_ttl("0m").unwrap_err().contains("positive"));
        for bad in ["", "h", "1", "1w", "-1h", "1.5h", "1 h", "h1"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
