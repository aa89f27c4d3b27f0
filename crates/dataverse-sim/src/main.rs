//! `dataverse-sim`: runs the Dataverse simulator until Ctrl-C, for the demo and manual testing.
//! Prints the base URL, token URL, scope and client id as `key=value` lines on standard output.

use std::net::{Ipv4Addr, SocketAddr};

use clap::Parser;
use mentor_status_dataverse_sim::{RateLimit, SimConfig, Simulator, demo};
use tracing_subscriber::EnvFilter;

/// The secret used when the environment variable is not set.
const FALLBACK_SECRET: &str = "sim-secret";

/// A Dataverse-compatible Web API with an Entra ID token endpoint, on 127.0.0.1.
#[derive(Parser)]
#[command(name = "dataverse-sim", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The client id the token endpoint accepts.
    #[arg(long, default_value = "sim-client")]
    client_id: String,
    /// Environment variable holding the client secret (falls back to "sim-secret" when unset).
    #[arg(long, default_value = "DATAVERSE_SIM_CLIENT_SECRET")]
    client_secret_env: String,
    /// Pre-create this many contacts with deterministic ids and member numbers, all hidden.
    #[arg(long, default_value_t = 0)]
    contacts: u32,
    /// Service protection limit as REQUESTS/SECONDS, e.g. 6000/300.
    #[arg(long)]
    rate_limit: Option<RateLimit>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let client_secret =
        std::env::var(&args.client_secret_env).unwrap_or_else(|_| FALLBACK_SECRET.to_owned());
    let config = SimConfig {
        client_id: args.client_id.clone(),
        client_secret,
        ..SimConfig::default()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sim = Simulator::start_on(addr, config).await?;
    demo::seed_contacts(&sim, args.contacts);
    sim.faults().set_rate_limit(args.rate_limit);

    println!("base_url={}", sim.base_url());
    println!("token_url={}", sim.token_url());
    println!("scope={}", sim.scope());
    println!("client_id={}", args.client_id);

    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
