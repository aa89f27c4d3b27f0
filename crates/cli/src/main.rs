//! `mentor-status`: the command line of the mentor availability service. See `args` for the
//! commands and `commands` for what they do.

mod args;
mod clock;
mod commands;
mod config;
mod delivery_config;
mod duration;
mod env;
mod error;
mod logging;
mod mentor_csv;
mod password;
mod sync_config;
mod ttl;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap reports its own usage errors and exits with code 2.
    let cli = args::Cli::parse();
    ExitCode::from(commands::run(cli))
}
