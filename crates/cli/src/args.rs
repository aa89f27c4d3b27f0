//! The command line: every command, flag and exit code of `mentor-status` (docs/cli.md describes them).

use std::path::PathBuf;

use chrono::{Duration, NaiveDate};
use clap::{Args, Parser, Subcommand};
use domain::{DomainError, Email, Locale, MentorId, OrgSlug, OrgTimeZone, Role};

use crate::config::LogFormat;
use crate::ttl::parse_ttl;

#[derive(Debug, Parser)]
#[command(
    name = "mentor-status",
    version,
    about = "The source of truth for peer mentors' availability",
    after_help = "Configuration: a TOML file (--config, default ./mentor-status.toml if present) and \
                  MENTOR_STATUS__SECTION__KEY environment variables, which win. \
                  The token signing secret comes only from MENTOR_STATUS__AUTH__JWT_SECRET.\n\
                  Exit codes: 0 success, 1 the work failed, 2 usage or configuration error."
)]
pub struct Cli {
    /// Configuration file [default: ./mentor-status.toml if present]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print one JSON object on standard output instead of human-readable text
    #[arg(long, global = true)]
    pub json: bool,

    /// Log format on standard error: text for people, json (one object per line) for log
    /// collectors [default: log.format, or text]
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the JSON API and the dashboard until SIGINT or SIGTERM (PostgreSQL: the schema must be current; SQLite migrates itself)
    Serve(ServeArgs),
    /// Apply pending database migrations (safe to run again)
    Migrate,
    /// Manage organisations
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage logins
    #[command(subcommand)]
    Users(UsersCommand),
    /// Import data from files
    #[command(subcommand)]
    Import(ImportCommand),
    /// The nightly certification run (reminders, automatic transitions, digests)
    #[command(subcommand)]
    Expiry(ExpiryCommand),
    /// The public listing sync to Dynamics 365
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Tools for development and demos
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Run the Dataverse simulator (token endpoint, WhoAmI, contacts, $batch) until Ctrl-C; the
    /// client secret is DATAVERSE_SIM_CLIENT_SECRET, or "sim-secret"
    DataverseSim(DevDataverseSim),
}

#[derive(Debug, Args)]
pub struct DevDataverseSim {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Pre-create this many hidden contacts with deterministic ids and member numbers
    #[arg(long, default_value_t = 0)]
    pub contacts: u32,
    /// Service protection limit as REQUESTS/SECONDS, e.g. 6000/300
    #[arg(long, value_name = "REQUESTS/SECONDS")]
    pub rate_limit: Option<RateLimit>,
}

/// `--rate-limit` as the simulator reads it. A build without the `demo` feature has no simulator and
/// refuses `dev dataverse-sim` whole, but keeps its options (as text) so `--help` is the same.
#[cfg(feature = "demo")]
type RateLimit = dataverse_sim::RateLimit;
#[cfg(not(feature = "demo"))]
type RateLimit = String;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Demo mode: apply migrations, create (once) a demo organisation with a coordinator and 50
    /// mentors, start an in-process Dataverse simulator as its integration, and print a token and
    /// what to try. Needs no signing secret (one is generated for the run when none is set).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Push mentors' current state to Dynamics now, without a server (break-glass); exit 1 if
    /// anything failed
    Push(SyncPush),
    /// Queue mentors whose pushed version is behind, compare every remote record with the desired
    /// state, re-queue the divergent ones and record the drift (the nightly listing sync)
    Reconcile(SyncOrgs),
    /// Get a token and call WhoAmI; opens or resolves the credentials alert
    CheckCredentials(SyncOrgs),
}

#[derive(Debug, Args)]
pub struct SyncPush {
    /// Only this organisation [default: every organisation with an integration]
    #[arg(long, value_parser = parse_slug)]
    pub org: Option<OrgSlug>,
    /// Push every linked mentor, not only those with changes waiting
    #[arg(long, conflicts_with = "mentor")]
    pub all: bool,
    /// Push only this mentor
    #[arg(long, value_name = "ID")]
    pub mentor: Option<MentorId>,
    /// Read a new client secret from standard input (one line) instead of the configured one;
    /// needs --org
    #[arg(long, requires = "org")]
    pub client_secret_stdin: bool,
}

#[derive(Debug, Args)]
pub struct SyncOrgs {
    /// Only this organisation [default: every organisation with an integration]
    #[arg(long, value_parser = parse_slug)]
    pub org: Option<OrgSlug>,
}

#[derive(Debug, Subcommand)]
pub enum ExpiryCommand {
    /// Run now, once per organisation; safe to repeat (every effect happens once)
    Run(ExpiryRun),
}

#[derive(Debug, Args)]
pub struct ExpiryRun {
    /// Only this organisation [default: all]
    #[arg(long, value_parser = parse_slug)]
    pub org: Option<OrgSlug>,
    /// Evaluate as this business date (YYYY-MM-DD) instead of today, e.g. to backfill
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Allow an --as-of after the organisation's today
    #[arg(long, requires = "as_of")]
    pub allow_future: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organisation
    Add(OrgsAdd),
}

#[derive(Debug, Args)]
pub struct OrgsAdd {
    /// Short name used in commands and URLs: a-z, 0-9, - and _ (2–40 characters)
    #[arg(long, value_parser = parse_slug)]
    pub slug: OrgSlug,
    /// Display name
    #[arg(long)]
    pub name: String,
    /// IANA time zone the organisation's business dates are counted in
    #[arg(long, default_value = OrgTimeZone::DEFAULT_NAME, value_parser = OrgTimeZone::parse)]
    pub timezone: OrgTimeZone,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a login in an organisation
    Add(UsersAdd),
    /// Mint an API token for a user and print it (nothing else) on standard output
    Token(UsersToken),
}

#[derive(Debug, Args)]
pub struct UsersAdd {
    /// Slug of the user's organisation
    #[arg(long, value_parser = parse_slug)]
    pub org: OrgSlug,
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// What the user may do: coordinator (manages mentors), admin, or mentor (their own status)
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// For --role mentor: the id of the mentor this login speaks for
    #[arg(long, value_name = "ID")]
    pub mentor: Option<MentorId>,
    /// Read a password for dashboard logins from standard input (at least 12 characters;
    /// one trailing newline is removed)
    #[arg(long)]
    pub password_stdin: bool,
    /// The language of this user's emails (nb or en); the organisation's when not given
    #[arg(long, value_parser = parse_locale)]
    pub locale: Option<Locale>,
}

#[derive(Debug, Args)]
pub struct UsersToken {
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// How long the token is valid: a number and a unit, e.g. 30m, 1h, 7d (at most 30d)
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Register mentors from a CSV file: all rows or none
    #[command(after_help = crate::mentor_csv::COLUMNS_HELP)]
    Mentors(ImportMentors),
}

#[derive(Debug, Args)]
pub struct ImportMentors {
    /// The CSV file (UTF-8, comma-separated, first line is the header)
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Slug of the organisation the mentors belong to
    #[arg(long, value_parser = parse_slug)]
    pub org: OrgSlug,
    /// Check every row and report what would be imported, without writing anything
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_slug(raw: &str) -> Result<OrgSlug, String> {
    OrgSlug::parse(raw).map_err(|e| e.to_string())
}

fn parse_email(raw: &str) -> Result<Email, String> {
    Email::parse(raw).map_err(|e| e.to_string())
}

fn parse_role(raw: &str) -> Result<Role, DomainError> {
    raw.parse()
}

fn parse_locale(raw: &str) -> Result<Locale, DomainError> {
    Locale::parse(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "mentor-status",
            "users",
            "token",
            "--email",
            "Kari@Example.no",
            "--json",
            "--config",
            "x.toml",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Command::Users(UsersCommand::Token(token)) = cli.command else {
            panic!("parsed as another command");
        };
        assert_eq!(token.email.as_str(), "kari@example.no");
        assert_eq!(token.ttl, Duration::hours(1));
    }

    #[test]
    fn invalid_values_are_usage_errors() {
        for args in [
            &[
                "mentor-status",
                "orgs",
                "add",
                "--slug",
                "HLF",
                "--name",
                "x",
            ][..],
            &[
                "mentor-status",
                "orgs",
                "add",
                "--slug",
                "hlf",
                "--name",
                "x",
                "--timezone",
                "Mars/Base",
            ],
            &[
                "mentor-status",
                "users",
                "add",
                "--org",
                "hlf",
                "--email",
                "a@b.no",
                "--role",
                "boss",
            ],
            &[
                "mentor-status",
                "users",
                "token",
                "--email",
                "a@b.no",
                "--ttl",
                "31d",
            ],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
