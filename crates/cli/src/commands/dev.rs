//! `mentor-status dev dataverse-sim`: the Dataverse simulator for demos and manual testing. Needs no
//! database; prints where it listens as `key=value` lines and runs until SIGINT or SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};

use dataverse_sim::{SimConfig, Simulator, demo};

use super::Outcome;
use crate::args::DevDataverseSim;
use crate::error::CliError;

/// The environment variable with the simulator's client secret.
const SECRET_ENV: &str = "DATAVERSE_SIM_CLIENT_SECRET";
const FALLBACK_SECRET: &str = "sim-secret";

pub async fn dataverse_sim(args: DevDataverseSim) -> Result<Outcome, CliError> {
    let config = SimConfig {
        client_secret: std::env::var(SECRET_ENV).unwrap_or_else(|_| FALLBACK_SECRET.to_owned()),
        ..SimConfig::default()
    };
    let client_id = config.client_id.clone();
    let shutdown = super::serve::shutdown_signal()?;
    let sim = Simulator::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)), config)
        .await
        .map_err(|e| {
            CliError::failed(format!(
                "cannot start the simulator on port {}: {e}",
                args.port
            ))
        })?;
    demo::seed_contacts(&sim, args.contacts);
    sim.faults().set_rate_limit(args.rate_limit);
    println!("base_url={}", sim.base_url());
    println!("token_url={}", sim.token_url());
    println!("scope={}", sim.scope());
    println!("client_id={client_id}");
    shutdown.await;
    sim.shutdown().await;
    Ok(Outcome::Quiet)
}
