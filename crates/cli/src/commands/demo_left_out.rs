//! The demo as a build without the `demo` cargo feature sees it (a production build:
//! `cargo build --release -p mentor-status-cli --no-default-features`, which leaves the Dataverse
//! simulator out of the binary). `serve --demo` and `dev dataverse-sim` stay on the command line,
//! so `--help` reads the same in every build, and are refused as usage errors (exit 2) that name
//! the missing feature.

use engine::sync::Integration;
use secrecy::SecretString;
use store::Store;
use web::auth::TokenKeys;

use crate::error::CliError;

/// The refusal of `command` (`serve --demo`, `dev dataverse-sim`) in this build.
pub fn left_out(command: &str) -> CliError {
    CliError::usage(format!(
        "{command} is not in this build: it was built without the cargo feature `demo` \
         (--no-default-features, a production build). Build with the default features, \
         or --features demo, to use it"
    ))
}

/// What `serve` would get from the demo; never made in this build (see [`DemoListing`]).
pub struct Demo {
    pub integration: Integration,
    pub keys: TokenKeys,
    pub listing: DemoListing,
}

/// No value: there is no simulator in this build.
pub enum DemoListing {}

impl DemoListing {
    pub fn banner(&self, _address: &str) -> String {
        match *self {}
    }
}

/// Refused: `dispatch` answers `serve --demo` before connecting, so this is not reached.
pub async fn prepare<S: Store>(
    _store: &S,
    _jwt_secret: Option<&SecretString>,
) -> Result<Demo, CliError> {
    Err(left_out("serve --demo"))
}
