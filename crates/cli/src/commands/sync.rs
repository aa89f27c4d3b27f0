//! `mentor-status sync push|reconcile|check-credentials`: the listing sync from the command line,
//! without a server. `push` is the break-glass tool: it can take a new client secret on standard
//! input, shows progress on a terminal, prints a summary and exits 1 if anything failed.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use engine::Engine;
use engine::sync::{Integration, PassReport, Relay};
use secrecy::SecretString;
use serde_json::json;
use store::{Org, Store, SyncPriority, SyncSelection};
use uuid::Uuid;

use super::{Outcome, store_failed};
use crate::args::SyncPush;
use crate::error::CliError;

/// Totals of a push: what was queued, and what the relay's passes did with it.
#[derive(Debug, Default)]
struct PushTotals {
    queued: u64,
    report: PassReport,
}

/// `hlf [##########----------] 500/1000 pushed, 0 failed, 0 not linked`: a progress bar by hand
/// (one line redrawn with `\r`), so the break-glass tool needs no terminal crate.
fn progress_line(org: &str, totals: &PushTotals) -> String {
    const WIDTH: usize = 20;
    let done = totals.report.pushed + totals.report.unlinked + totals.report.failed();
    let queued = usize::try_from(totals.queued)
        .unwrap_or(usize::MAX)
        .max(done)
        .max(1);
    let filled = WIDTH * done / queued;
    format!(
        "{org} [{}{}] {done}/{queued} pushed {}, failed {}, not linked {}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        totals.report.pushed,
        totals.report.failed(),
        totals.report.unlinked
    )
}

/// Read the new client secret: one line on standard input, never echoed or logged.
pub fn read_secret_from_stdin() -> Result<SecretString, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::failed(format!("cannot read the client secret from stdin: {e}")))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        return Err(CliError::usage(
            "--client-secret-stdin: standard input held no secret (one line expected)",
        ));
    }
    Ok(SecretString::from(secret))
}

pub async fn push<S: Store>(
    engine: Engine<S>,
    integrations: Vec<Arc<Integration>>,
    args: SyncPush,
) -> Result<Outcome, CliError> {
    let config = engine
        .listing()
        .map(|l| l.config.clone())
        .unwrap_or_default();
    let progress = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    let mut failed_orgs = Vec::new();
    for integration in integrations {
        let org = org_of(&engine, &integration).await?;
        let (selection, priority) = match (args.all, args.mentor) {
            (_, Some(mentor)) => (SyncSelection::Mentor(mentor), SyncPriority::High),
            (true, None) => (SyncSelection::AllLinked, SyncPriority::High),
            (false, None) => (SyncSelection::Behind, SyncPriority::Normal),
        };
        let mut totals = PushTotals {
            queued: engine
                .store()
                .queue_sync(integration.org, selection, priority)
                .await
                .map_err(|e| store_failed("cannot queue the mentors", e))?,
            ..PushTotals::default()
        };
        // A fresh credential check first: it stops here with a clear message when the secret does
        // not work. With the configured secret it is recorded (and resolves the credentials
        // alert); a break-glass secret from stdin proves nothing about the configuration the
        // servers run with, so the alert stays open until they have the new secret.
        let checked = if args.client_secret_stdin {
            integration.client.check_credentials().await
        } else {
            engine
                .check_credentials(&integration)
                .await
                .map_err(|e| CliError::failed(format!("{}: {e}", org.slug)))?
        };
        if let Err(error) = checked {
            totals.report.credentials_refused = matches!(
                error,
                dataverse::DataverseError::Unauthorized { .. }
                    | dataverse::DataverseError::Forbidden { .. }
            );
            failed_orgs.push(format!(
                "{}: the credential check failed: {error}",
                org.slug
            ));
            reports.push((org.slug.to_string(), totals));
            continue;
        }
        let relay = Relay::new(
            engine.clone(),
            integration.clone(),
            config.clone(),
            Uuid::new_v4(),
        );
        loop {
            let pass = relay
                .pass()
                .await
                .map_err(|e| CliError::failed(format!("{}: {e}", org.slug)))?;
            let finished = pass.claimed == 0 || pass.credentials_refused;
            totals.report.absorb(pass);
            if progress {
                eprint!("\r{}", progress_line(org.slug.as_str(), &totals));
                let _ = std::io::stderr().flush();
            }
            if finished {
                break;
            }
        }
        if progress {
            eprintln!();
        }
        if totals.report.failed() > 0 || totals.report.credentials_refused {
            failed_orgs.push(format!(
                "{}: {} mentor(s) failed ({} will be retried by the relay, {} dead, {} without a \
                 remote record){}",
                org.slug,
                totals.report.failed(),
                totals.report.retried,
                totals.report.dead,
                totals.report.not_found,
                if totals.report.credentials_refused {
                    "; credentials were refused"
                } else {
                    ""
                }
            ));
        }
        reports.push((org.slug.to_string(), totals));
    }
    let human: Vec<String> = reports
        .iter()
        .map(|(slug, t)| {
            format!(
                "{slug}: {} queued, {} pushed, {} not linked, {} failed",
                t.queued,
                t.report.pushed,
                t.report.unlinked,
                t.report.failed()
            )
        })
        .collect();
    let json = json!({
        "orgs": reports.iter().map(|(slug, t)| json!({
            "org": slug,
            "queued": t.queued,
            "pushed": t.report.pushed,
            "unlinked": t.report.unlinked,
            "retried": t.report.retried,
            "dead": t.report.dead,
            "not_found": t.report.not_found,
            "credentials_refused": t.report.credentials_refused,
        })).collect::<Vec<_>>()
    });
    if failed_orgs.is_empty() {
        Ok(Outcome::report(human.join("\n"), json))
    } else {
        let mut details = failed_orgs;
        details.extend(human);
        Err(CliError::Failed {
            summary: "the push did not reach every mentor".to_owned(),
            details,
        })
    }
}

pub async fn reconcile<S: Store>(
    engine: Engine<S>,
    integrations: Vec<Arc<Integration>>,
) -> Result<Outcome, CliError> {
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for integration in integrations {
        let org = org_of(&engine, &integration).await?;
        let report = engine
            .run_listing_sync(&org)
            .await
            .map_err(|e| CliError::failed(format!("{}: {e}", org.slug)))?;
        if let Some(error) = &report.error {
            failures.push(format!("{}: {error}", org.slug));
        }
        reports.push(report);
    }
    let human: Vec<String> = reports
        .iter()
        .map(|r| {
            format!(
                "{}: {} queued as behind, {} compared, {} drifted (re-queued), {} without a remote \
                 record (run {})",
                r.org,
                r.counts.queued,
                r.counts.checked,
                r.counts.drift,
                r.counts.missing_records,
                r.run_id
            )
        })
        .collect();
    if failures.is_empty() {
        Ok(Outcome::report(
            human.join("\n"),
            json!({ "runs": reports }),
        ))
    } else {
        Err(CliError::Failed {
            summary: "reconciliation failed".to_owned(),
            details: failures,
        })
    }
}

pub async fn check_credentials<S: Store>(
    engine: Engine<S>,
    integrations: Vec<Arc<Integration>>,
) -> Result<Outcome, CliError> {
    let mut lines = Vec::new();
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for integration in integrations {
        let org = org_of(&engine, &integration).await?;
        match engine
            .check_credentials(&integration)
            .await
            .map_err(|e| CliError::failed(format!("{}: {e}", org.slug)))?
        {
            Ok(who) => {
                lines.push(format!(
                    "{}: credentials work (application user {})",
                    org.slug, who.user_id
                ));
                results
                    .push(json!({"org": org.slug.to_string(), "ok": true, "user_id": who.user_id}));
            }
            Err(error) => {
                failures.push(format!("{}: {error}", org.slug));
                results.push(
                    json!({"org": org.slug.to_string(), "ok": false, "error": error.to_string()}),
                );
            }
        }
    }
    if failures.is_empty() {
        Ok(Outcome::report(
            lines.join("\n"),
            json!({ "checks": results }),
        ))
    } else {
        Err(CliError::Failed {
            summary: "a credential check failed".to_owned(),
            details: failures,
        })
    }
}

async fn org_of<S: Store>(engine: &Engine<S>, integration: &Integration) -> Result<Org, CliError> {
    engine
        .store()
        .org(integration.org)
        .await
        .map_err(|e| store_failed("cannot read the organisation", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_fills_with_what_is_done() {
        let mut totals = PushTotals {
            queued: 10,
            ..PushTotals::default()
        };
        assert_eq!(
            progress_line("hlf", &totals),
            "hlf [--------------------] 0/10 pushed 0, failed 0, not linked 0"
        );
        totals.report.pushed = 4;
        totals.report.retried = 1;
        assert_eq!(
            progress_line("hlf", &totals),
            "hlf [##########----------] 5/10 pushed 4, failed 1, not linked 0"
        );
    }
}
