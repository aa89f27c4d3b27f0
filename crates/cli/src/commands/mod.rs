//! Running a parsed command line: configuration, the store the database URL selects, the command,
//! and its output and exit code.

// `serve --demo` and `dev dataverse-sim` need the Dataverse simulator, which only the `demo` cargo
// feature (on by default) builds in; without it they are refused (see demo_left_out.rs).
#[cfg(feature = "demo")]
mod demo;
#[cfg(not(feature = "demo"))]
#[path = "demo_left_out.rs"]
mod demo;
#[cfg(feature = "demo")]
mod dev;
mod expiry;
mod import;
mod migrate;
mod orgs;
mod serve;
mod sync;
mod users;

use engine::Engine;
use serde_json::Value;
use store::{SchemaStore, Store, StoreError};
use store_postgres::PgStore;
use store_sqlite::{Access, SqliteStore};

use crate::args::{
    Cli, Command, DevCommand, ExpiryCommand, ImportCommand, OrgsCommand, ServeArgs, SyncCommand,
    UsersCommand,
};
use crate::config::{Backend, Config, DEFAULT_COMMAND_LOG_LEVEL, DEFAULT_SERVE_LOG_LEVEL};
use crate::error::CliError;
use crate::logging;
use crate::sync_config;

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
    // Inside the runtime: checking `[smtp]` builds (and drops) a mail connection pool, which needs
    // a reactor.
    let loaded = {
        let _runtime = runtime.enter();
        Config::load(cli.config.as_deref())
    };
    let mut config = match loaded {
        Ok(config) => config,
        Err(e) => return fail(cli.json, &e, None),
    };
    if let Some(format) = cli.log_format {
        config.log.format = format;
    }
    let default_level = match cli.command {
        Command::Serve(_) => DEFAULT_SERVE_LOG_LEVEL,
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
    // Development tools need no database; without the demo feature, neither does refusing them.
    let command = match command {
        #[cfg(feature = "demo")]
        Command::Dev(DevCommand::DataverseSim(args)) => return dev::dataverse_sim(args).await,
        #[cfg(not(feature = "demo"))]
        Command::Dev(DevCommand::DataverseSim(_)) => {
            return Err(demo::left_out("dev dataverse-sim"));
        }
        #[cfg(not(feature = "demo"))]
        Command::Serve(ServeArgs { demo: true }) => return Err(demo::left_out("serve --demo")),
        other => other,
    };
    // Settled before connecting, so a missing secret is reported without touching the database.
    // (The demo generates one for its run when none is set.)
    if matches!(
        command,
        Command::Serve(ServeArgs { demo: false }) | Command::Users(UsersCommand::Token(_))
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
            .map_err(|e| connect_failed(config, e, Backend::Postgres))?;
            run_command(command, config, store).await
        }
        Backend::Sqlite => {
            // A server claims the file; one-shot commands may run beside it.
            let access = match command {
                Command::Serve(_) => Access::Exclusive,
                _ => Access::Shared,
            };
            let store = SqliteStore::connect(
                config.database_url.expose(),
                config.database_max_connections,
                access,
            )
            .await
            .map_err(|e| connect_failed(config, e, Backend::Sqlite))?;
            // The embedded database keeps itself current: nobody else shares its schema.
            if !matches!(command, Command::Migrate) {
                store
                    .migrate()
                    .await
                    .map_err(|e| store_failed("migration failed", e))?;
            }
            run_command(command, config, store).await
        }
    }
}

fn connect_failed(config: &Config, error: StoreError, backend: Backend) -> CliError {
    let hint = match (&error, backend) {
        (StoreError::Unavailable(_), Backend::Postgres) => {
            "; check that PostgreSQL is running there and the database exists"
        }
        _ => "",
    };
    CliError::failed(format!(
        "cannot open the database at {}: {error}{hint}",
        config.database_url
    ))
}

async fn run_command<S: Store>(
    command: Command,
    config: &Config,
    store: S,
) -> Result<Outcome, CliError> {
    match command {
        // Demo mode migrates by itself: it is for a database made for it.
        Command::Serve(ServeArgs { demo: true }) => {
            migrate::run(&store).await?;
        }
        Command::Migrate => {}
        _ => require_current_schema(&store).await?,
    }
    match command {
        Command::Serve(args) => {
            let demo = match args.demo {
                true => Some(demo::prepare(&store, config.auth.jwt_secret.as_ref()).await?),
                false => None,
            };
            let mut integrations =
                sync_config::integrations(&store, &config.orgs, None, None).await?;
            integrations.extend(demo.as_ref().map(|d| d.integration.clone()));
            let engine = with_integrations(config, engine(config, store)?, integrations)?;
            serve::run(config, engine, demo).await
        }
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
        // Handled in `dispatch` before connecting; named here only because the match is exhaustive.
        Command::Dev(_) => Err(CliError::usage("dev commands need no database")),
        Command::Sync(command) => {
            let (only, secret) = match &command {
                SyncCommand::Push(args) => (
                    args.org.clone(),
                    args.client_secret_stdin
                        .then(sync::read_secret_from_stdin)
                        .transpose()?,
                ),
                SyncCommand::Reconcile(args) | SyncCommand::CheckCredentials(args) => {
                    (args.org.clone(), None)
                }
            };
            let integrations = sync_config::integrations(
                &store,
                &config.orgs,
                only.as_ref().map(|slug| slug.as_str()),
                secret,
            )
            .await?;
            let engine = with_integrations(config, engine(config, store)?, integrations)?;
            let integrations: Vec<_> = engine
                .listing()
                .map(|l| l.integrations().cloned().collect())
                .unwrap_or_default();
            if integrations.is_empty() {
                return Err(CliError::usage(
                    "no Dynamics integration is configured for this: add [orgs.<slug>.dynamics] \
                     to the configuration (see docs/operations.md)",
                ));
            }
            match command {
                SyncCommand::Push(args) => sync::push(engine, integrations, args).await,
                SyncCommand::Reconcile(_) => sync::reconcile(engine, integrations).await,
                SyncCommand::CheckCredentials(_) => {
                    sync::check_credentials(engine, integrations).await
                }
            }
        }
    }
}

/// The engine with these Dynamics integrations, if any.
fn with_integrations<S: Store>(
    config: &Config,
    engine: Engine<S>,
    integrations: Vec<engine::sync::Integration>,
) -> Result<Engine<S>, CliError> {
    if integrations.is_empty() {
        return Ok(engine);
    }
    Ok(engine.with_listing_sync(engine::sync::ListingSync::new(
        integrations,
        config.sync.relay_config()?,
    )))
}

/// The workflows over `store`, on the system clock (or `[clock] file`), configured from `[expiry]`
/// and `[features]`.
fn engine<S: Store>(config: &Config, store: S) -> Result<Engine<S>, CliError> {
    let clock = crate::clock::from_config(config.clock.file.as_deref())?;
    Ok(Engine::new(store, clock).with_expiry_config(config.expiry_config()?))
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
