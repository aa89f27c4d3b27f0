//! Running a parsed command line: configuration, the store the database URL selects, the command,
//! and its output and exit code.

mod expiry;
mod import;
mod migrate;
mod orgs;
mod serve;
mod users;

use std::sync::Arc;

use domain::SystemClock;
use engine::Engine;
use serde_json::Value;
use store::{Store, StoreError};
use store_postgres::PgStore;

use crate::args::{Cli, Command, ExpiryCommand, ImportCommand, OrgsCommand, UsersCommand};
use crate::config::{Backend, Config, DEFAULT_COMMAND_LOG_LEVEL, DEFAULT_SERVE_LOG_LEVEL};
use crate::error::CliError;
use crate::logging;

/// What a successful command shows.
pub enum Outcome {
    /// `human` for people, `json` for `--json`.
    Report { human: String, json: Value },
    /// Nothing beyond the logs (a server that ran until it was stopped).
    Quiet,
}

impl Outcome {
    pub fn report(human: impl Into<String>, json: Value) -> Self {
        Outcome::Report {
            human: human.into(),
            json,
        }
    }
}

/// Run the command and return the process exit code.
pub fn run(cli: Cli) -> u8 {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return fail(cli.json, &e, None),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(
                cli.json,
                &CliError::failed(format!("cannot start the async runtime: {e}")),
                None,
            );
        }
    };
    let default_level = match cli.command {
        Command::Serve => DEFAULT_SERVE_LOG_LEVEL,
        _ => DEFAULT_COMMAND_LOG_LEVEL,
    };
    let result = logging::init(&config.log, default_level)
        .and_then(|()| runtime.block_on(dispatch(cli.command, &config)));
    match result {
        Ok(Outcome::Report { human, json }) => {
            if cli.json {
                println!("{json}");
            } else {
                println!("{human}");
            }
            0
        }
        Ok(Outcome::Quiet) => 0,
        Err(e) => fail(cli.json, &e, Some(&config)),
    }
}

/// Report `error` on standard error (and as JSON on standard output with `--json`), with every
/// secret of the configuration masked, and return its exit code.
fn fail(json: bool, error: &CliError, config: Option<&Config>) -> u8 {
    let redact = |text: &str| config.map_or_else(|| text.to_owned(), |c| c.redact(text));
    for line in error.lines() {
        eprintln!("{}", redact(&line));
    }
    if json {
        println!("{}", redact(&error.to_json().to_string()));
    }
    error.exit_code()
}

async fn dispatch(command: Command, config: &Config) -> Result<Outcome, CliError> {
    // Settled before connecting, so a missing secret is reported without touching the database.
    if matches!(
        command,
        Command::Serve | Command::Users(UsersCommand::Token(_))
    ) {
        config.require_jwt_secret()?;
    }
    // Static dispatch on the backend the URL selects; commands are generic over the Store.
    match config.database_url.backend()? {
        Backend::Postgres => {
            let store = PgStore::connect(
                config.database_url.expose(),
                config.database_max_connections,
            )
            .await
            .map_err(|e| {
                let hint = match e {
                    StoreError::Unavailable(_) => {
                        "; check that PostgreSQL is running there and the database exists"
                    }
                    _ => "",
                };
                CliError::failed(format!(
                    "cannot connect to the database at {}: {e}{hint}",
                    config.database_url
                ))
            })?;
            run_command(command, config, store).await
        }
    }
}

async fn run_command<S: Store>(
    command: Command,
    config: &Config,
    store: S,
) -> Result<Outcome, CliError> {
    if !matches!(command, Command::Migrate) {
        require_current_schema(&store).await?;
    }
    match command {
        Command::Serve => serve::run(config, engine(config, store)?).await,
        Command::Migrate => migrate::run(&store).await,
        Command::Orgs(OrgsCommand::Add(args)) => orgs::add(&store, args).await,
        Command::Users(UsersCommand::Add(args)) => users::add(&store, args).await,
        Command::Users(UsersCommand::Token(args)) => users::token(config, &store, args).await,
        Command::Import(ImportCommand::Mentors(args)) => {
            import::mentors(engine(config, store)?, args).await
        }
        Command::Expiry(ExpiryCommand::Run(args)) => {
            expiry::run(engine(config, store)?, args, config.expiry.parallel_orgs).await
        }
    }
}

/// The workflows over `store`, on the system clock, configured from `[expiry]` and `[features]`.
fn engine<S: Store>(config: &Config, store: S) -> Result<Engine<S>, CliError> {
    Ok(Engine::new(store, Arc::new(SystemClock)).with_expiry_config(config.expiry_config()?))
}

/// Every command but `migrate` needs the schema this build expects; migrating is a deliberate step
/// (several servers may share the database), so it is never done behind the operator's back.
async fn require_current_schema<S: Store>(store: &S) -> Result<(), CliError> {
    let status = store
        .schema_status()
        .await
        .map_err(|e| store_failed("cannot read the database schema version", e))?;
    if status.is_current() {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "the database schema is not current ({} of {} migrations applied); \
             run `mentor-status migrate` first",
            status.applied, status.known
        )))
    }
}

/// A store error as a failure of the work, with what was being done.
pub(crate) fn store_failed(doing: &str, error: StoreError) -> CliError {
    CliError::failed(format!("{doing}: {error}"))
}
