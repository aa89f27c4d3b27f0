//! The jobs that run per organisation and business date, by name. A job's name is what the run log
//! stores (the store's `RunRecord::job`), the `job` label of the run metrics, and what the API and
//! the dashboard show; the scheduler claims (job, organisation, business date) once.

use std::fmt;

/// One kind of run in the run log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// The nightly certification run (`expiry run`, the scheduler).
    Expiry,
    /// The nightly reconciliation of the public listing (`sync run`, the scheduler).
    ListingSync,
}

impl Job {
    /// Every job, in the order the scheduler starts them.
    pub const ALL: [Job; 2] = [Job::Expiry, Job::ListingSync];

    /// The job a stored `as_str()` names; `None` for a name this build does not know.
    pub fn parse(value: &str) -> Option<Self> {
        Job::ALL.into_iter().find(|job| job.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Expiry => "expiry",
            Job::ListingSync => "listing_sync",
        }
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_their_job() {
        for job in Job::ALL {
            assert_eq!(Job::parse(job.as_str()), Some(job));
        }
        assert_eq!(Job::Expiry.as_str(), "expiry");
        assert_eq!(Job::ListingSync.as_str(), "listing_sync");
        assert_eq!(Job::parse("listing-sync"), None);
    }
}
