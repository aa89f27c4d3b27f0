//! `mentor-status sync push|reconcile|check-credentials`: the listing sync from the command line,
//! without a server. `push` is the break-glass tool: it can take a new client secret on standard
//! input, shows progress on a terminal, prints a summary and exits 1 if anything failed.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use domain::MentorId;
use engine::Engine;
use engine::sync::{BreakGlassProgress, BreakGlassReport, Integration, PushFailure, Relay};
use secrecy::SecretString;
use serde_json::json;
use store::{Org, Store, SyncPriority, SyncSelection};
use uuid::Uuid;

use super::{Outcome, store_failed};
use crate::args::SyncPush;
use crate::error::CliError;

/// Totals of a push: what was queued, and what became of every selected mentor.
#[derive(Debug, Default)]
struct PushTotals {
    queued: u64,
    report: BreakGlassReport,
}

/// `hlf [##########----------] 500/1000 pushed 480, failed 0, not linked 20`: a progress bar by
/// hand (one line redrawn with `\r`), so the break-glass tool needs no terminal crate.
fn progress_line(org: &str, totals: &PushTotals) -> String {
    const WIDTH: usize = 20;
    let done = totals.report.done();
    let selected = totals.report.selected.max(done).max(1);
    let filled = WIDTH * done / selected;
    format!(
        "{org} [{}{}] {done}/{selected} pushed {}, failed {}, not linked {}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        totals.report.pushed,
        totals.report.failures.len(),
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

/// The break-glass push. Every selected mentor is pushed now, whatever backoff, retry or dead
/// state the relays left it in; a mentor leased by a running relay is waited for (at most the
/// lease; see `engine::sync::break_glass` for why it is never taken over) and then pushed
/// read-before-write. Each selected mentor ends pushed, not linked, or failed with its reason (by
/// id), and any failure makes the exit code 1.
pub async fn push<S: Store>(
    engine: Engine<S>,
    integrations: Vec<Arc<Integration>>,
    args: SyncPush,
) -> Result<Outcome, CliError> {
    let config = engine
        .listing()
        .map(|l| l.config.clone())
        .unwrap_or_default();
    let terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    let mut failed_orgs = Vec::new();
    for integration in integrations {
        let org = org_of(&engine, &integration).await?;
        let (selection, priority) = match (args.all, args.mentor) {
            (_, Some(mentor)) => (SyncSelection::Mentor(mentor), SyncPriority::High),
            (true, None) => (SyncSelection::AllLinked, SyncPriority::High),
            (false, None) => (SyncSelection::Behind, SyncPriority::Normal),
        };
        // Which mentors this push answers for: one, every linked one, or every linked one not in
        // sync (behind, or with rows waiting — whatever lease, backoff or dead state they are in).
        let selected: Vec<MentorId> = match (args.all, args.mentor) {
            (_, Some(mentor)) => vec![mentor],
            (true, None) => engine
                .store()
                .sync_targets(integration.org)
                .await
                .map_err(|e| store_failed("cannot read the linked mentors", e))?
                .into_iter()
                .map(|target| target.mentor)
                .collect(),
            (false, None) => engine
                .store()
                .unsynced_mentors(integration.org)
                .await
                .map_err(|e| store_failed("cannot read the mentors to push", e))?,
        };
        // Queued too: what this push cannot do, the relays do once they can.
        let mut totals = PushTotals {
            queued: engine
                .store()
                .queue_sync(integration.org, selection, priority)
                .await
                .map_err(|e| store_failed("cannot queue the mentors", e))?,
            report: BreakGlassReport {
                selected: selected.len(),
                ..BreakGlassReport::default()
            },
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
            totals.report.passes.credentials_refused = matches!(
                error,
                dataverse::DataverseError::Unauthorized { .. }
                    | dataverse::DataverseError::Forbidden { .. }
            );
            for mentor in selected {
                totals.report.failures.push(PushFailure {
                    mentor,
                    reason: "not pushed: the credential check failed".to_owned(),
                });
            }
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
        let slug = org.slug.to_string();
        let mut told_of_waiting = false;
        let mut queued_line = PushTotals {
            queued: totals.queued,
            report: totals.report.clone(),
        };
        totals.report = relay
            .push_now(selected, |progress| match progress {
                BreakGlassProgress::Pushed(report) => {
                    if terminal {
                        queued_line.report = report.clone();
                        eprint!("\r{}", progress_line(&slug, &queued_line));
                        let _ = std::io::stderr().flush();
                    }
                }
                BreakGlassProgress::Waiting {
                    mentors,
                    lease_left,
                } => {
                    // Said once: the push is waiting, not hanging.
                    if !told_of_waiting {
                        told_of_waiting = true;
                        eprintln!(
                            "{}{slug}: {mentors} mentor(s) leased by a running relay; waiting for \
                             its push to finish (lease ends within {} s), then pushing them",
                            if terminal { "\r" } else { "" },
                            lease_left.as_secs() + 1
                        );
                    }
                }
            })
            .await
            .map_err(|e| CliError::failed(format!("{}: {e}", org.slug)))?;
        if terminal {
            eprintln!();
        }
        let report = &totals.report;
        if !report.failures.is_empty() {
            failed_orgs.push(format!(
                "{}: {} mentor(s) failed ({} will be retried by the relay, {} dead, {} without a \
                 remote record){}",
                org.slug,
                report.failures.len(),
                report.passes.retried,
                report.passes.dead,
                report.passes.not_found,
                if report.passes.credentials_refused {
                    "; credentials were refused"
                } else {
                    ""
                }
            ));
        }
        reports.push((slug, totals));
    }
    let human: Vec<String> = reports
        .iter()
        .map(|(slug, t)| {
            format!(
                "{slug}: {} queued, {} pushed, {} not linked, {} failed (of {} selected)",
                t.queued,
                t.report.pushed,
                t.report.unlinked,
                t.report.failures.len(),
                t.report.selected
            )
        })
        .collect();
    let json = json!({
        "orgs": reports.iter().map(|(slug, t)| json!({
            "org": slug,
            "selected": t.report.selected,
            "queued": t.queued,
            "pushed": t.report.pushed,
            "unlinked": t.report.unlinked,
            "failed": t.report.failures.len(),
            "retried": t.report.passes.retried,
            "dead": t.report.passes.dead,
            "not_found": t.report.passes.not_found,
            "credentials_refused": t.report.passes.credentials_refused,
            "waited_for_relay": t.report.waited_for_relay,
            "failures": t.report.failures.iter().map(|f| json!({
                "mentor_id": f.mentor,
                "reason": f.reason,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    });
    if failed_orgs.is_empty() {
        Ok(Outcome::report(human.join("\n"), json))
    } else {
        let mut details = failed_orgs;
        for (slug, t) in &reports {
            details.extend(
                t.report
                    .failures
                    .iter()
                    .map(|f| format!("{slug}: mentor {}: {}", f.mentor, f.reason)),
            );
        }
        details.extend(human);
        Err(CliError::Incomplete {
            summary: "the push did not reach every mentor".to_owned(),
            details,
            report: json,
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
            queued: 3,
            report: BreakGlassReport {
                selected: 10,
                ..BreakGlassReport::default()
            },
        };
        assert_eq!(
            progress_line("hlf", &totals),
            "hlf [--------------------] 0/10 pushed 0, failed 0, not linked 0"
        );
        totals.report.pushed = 4;
        totals.report.failures.push(PushFailure {
            mentor: MentorId::new(),
            reason: "refused".to_owned(),
        });
        assert_eq!(
            progress_line("hlf", &totals),
            "hlf [##########----------] 5/10 pushed 4, failed 1, not linked 0"
        );
    }
}
