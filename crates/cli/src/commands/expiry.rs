//! `mentor-status expiry run [--org SLUG] [--as-of YYYY-MM-DD [--allow-future]]`: one run now.

use domain::business_date;
use engine::Engine;
use engine::expiry::RunReport;
use futures::{StreamExt, stream};
use serde_json::json;
use store::{Org, RunCounts, Store};

use super::users::org_by_slug;
use super::{Outcome, store_failed};
use crate::args::ExpiryRun;
use crate::error::CliError;

pub async fn run<S: Store>(
    engine: Engine<S>,
    args: ExpiryRun,
    parallel_orgs: usize,
) -> Result<Outcome, CliError> {
    let orgs: Vec<Org> = match &args.org {
        Some(slug) => vec![org_by_slug(engine.store(), slug).await?],
        None => engine
            .store()
            .orgs()
            .await
            .map_err(|e| store_failed("cannot list the organisations", e))?,
    };
    let now = engine.clock().now();
    // Every date is checked before anything runs, so a refused --as-of changes nothing anywhere.
    let mut plan = Vec::with_capacity(orgs.len());
    for org in orgs {
        let today = business_date(now, org.timezone);
        let date = args.as_of.unwrap_or(today);
        if date > today && !args.allow_future {
            return Err(CliError::usage(format!(
                "--as-of {date} is after today ({today}) in {} ({}); add --allow-future to run \
                 as of a future business date on purpose",
                org.slug,
                org.timezone.name()
            )));
        }
        plan.push((org, date));
    }

    // Organisations are independent; a few at once keep both the database and this process busy.
    let outcomes: Vec<_> = stream::iter(&plan)
        .map(|(org, date)| {
            let engine = &engine;
            async move { (org, engine.run_expiry(org, *date).await) }
        })
        .buffered(parallel_orgs)
        .collect()
        .await;
    let mut reports = Vec::with_capacity(plan.len());
    let mut failures = Vec::new();
    for (org, outcome) in outcomes {
        match outcome {
            Ok(report) => reports.push(report),
            Err(e) => failures.push(format!("{}: {e}", org.slug)),
        }
    }
    if !failures.is_empty() {
        // What did run is reported too, after the failures.
        let mut details = failures.clone();
        details.extend(reports.iter().map(|r| format!("done: {}", describe(r))));
        return Err(CliError::Failed {
            summary: format!(
                "the expiry run failed for {} of {} organisation(s); each failure is in the run log",
                failures.len(),
                plan.len()
            ),
            details,
        });
    }
    let human = reports.iter().map(describe).collect::<Vec<_>>().join("\n");
    Ok(Outcome::report(human, json!({ "runs": reports })))
}

fn describe(report: &RunReport) -> String {
    let RunCounts {
        expired,
        resumed,
        resumed_into_expired,
        reminders_sent,
        reminders_skipped,
        resume_notices,
        digests,
        findings,
        ..
    } = report.counts;
    format!(
        "{} {}: {expired} expired, {resumed} resumed ({resumed_into_expired} into certification_expired), \
         {reminders_sent} reminders sent, {reminders_skipped} skipped, {resume_notices} resume notices, \
         {digests} coordinator digests, {findings} duplicate findings (run {})",
        report.org, report.business_date, report.run_id
    )
}
