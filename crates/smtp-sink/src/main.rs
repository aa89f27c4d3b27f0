//! `smtp-sink [--bind 127.0.0.1:2525]`: the test SMTP server for development.
//! Prints each received message's envelope and subject on stdout; stop it
//! with Ctrl-C. `RUST_LOG=debug` shows the SMTP conversation on stderr.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mentor_status_smtp_sink::SmtpSink;
use tokio::sync::broadcast::error::RecvError;

/// A local SMTP server that accepts every message and prints it.
#[derive(Parser, Debug)]
#[command(name = "smtp-sink", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    bind: SocketAddr,
    /// Only accept AUTH with these credentials (USER:PASSWORD) and require
    /// authentication before MAIL.
    #[arg(long, value_name = "USER:PASSWORD")]
    require_auth: Option<String>,
    /// Also print each message's text body.
    #[arg(long)]
    body: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let sink = match SmtpSink::start_on(args.bind) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("smtp-sink: cannot listen on {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    if let Some(credentials) = &args.require_auth {
        let Some((user, password)) = credentials.split_once(':') else {
            eprintln!("smtp-sink: --require-auth wants USER:PASSWORD");
            return ExitCode::FAILURE;
        };
        sink.require_auth(user, password);
    }
    let mut messages = sink.subscribe();
    println!("smtp-sink listening on {}", sink.url());
    loop {
        match messages.blocking_recv() {
            Ok(message) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{} from <{}> to {}",
                    message.received_at.format("%Y-%m-%d %H:%M:%S%.3f"),
                    message.envelope_from,
                    message
                        .recipients
                        .iter()
                        .map(|r| format!("<{r}>"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let _ = writeln!(out, "  subject: {}", message.subject().unwrap_or_default());
                if args.body {
                    for line in message.text_body().unwrap_or_default().lines() {
                        let _ = writeln!(out, "  | {line}");
                    }
                }
                let _ = out.flush();
            }
            Err(RecvError::Lagged(missed)) => {
                eprintln!("smtp-sink: {missed} message(s) not printed (too many at once)");
            }
            Err(RecvError::Closed) => return ExitCode::SUCCESS,
        }
    }
}
