//! The configuration's environment variables: `MENTOR_STATUS__SECTION__KEY`, read by every section
//! (`config`, `sync_config`, `delivery_config`), so they name them from here.

use figment::providers::Env;

/// Prefix of every configuration environment variable; `__` separates sections from keys.
pub const ENV_PREFIX: &str = "MENTOR_STATUS__";

/// Every `MENTOR_STATUS__…` variable, as figment keys (`section.key`).
pub fn environment() -> Env {
    Env::prefixed(ENV_PREFIX).split("__")
}
