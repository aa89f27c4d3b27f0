//! `mentor-status import mentors FILE.csv --org SLUG [--dry-run]`: all rows or none.

use engine::{Engine, EngineError, FieldError};
use serde_json::json;
use std::fs::File;
use std::io::BufReader;
use store::Store;

use super::users::org_by_slug;
use super::{Outcome, store_failed};
use crate::args::ImportMentors;
use crate::error::CliError;
use crate::mentor_csv::{column_of, read_mentors};

pub async fn mentors<S: Store>(
    engine: Engine<S>,
    args: ImportMentors,
) -> Result<Outcome, CliError> {
    let path = args.file.display().to_string();
    let file =
        File::open(&args.file).map_err(|e| CliError::usage(format!("cannot open {path}: {e}")))?;
    let parsed =
        read_mentors(BufReader::new(file)).map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    let org = org_by_slug(engine.store(), &args.org).await?;

    let mut problems = parsed.errors;
    // With problems in the file already, the engine only checks (dry run), so that its findings
    // are reported alongside them and nothing is written.
    let dry_run = args.dry_run || !problems.is_empty();
    match engine.import_mentors(&org, parsed.rows, dry_run).await {
        Ok(summary) if problems.is_empty() => {
            let mentors = plural(summary.rows, "mentor");
            let counts = format!(
                "{} active, {} certification_expired",
                summary.active, summary.certification_expired
            );
            let human = if summary.dry_run {
                format!(
                    "dry run: {mentors} would be imported into {} ({counts}); nothing was written",
                    org.slug
                )
            } else {
                format!("imported {mentors} into {} ({counts})", org.slug)
            };
            Ok(Outcome::report(
                human,
                json!({
                    "org": org.slug,
                    "rows": summary.rows,
                    "active": summary.active,
                    "certification_expired": summary.certification_expired,
                    "dry_run": summary.dry_run,
                }),
            ))
        }
        Ok(_) => Err(invalid_file(&path, problems)),
        Err(EngineError::InvalidRows(rows)) => {
            problems.extend(rows);
            Err(invalid_file(&path, problems))
        }
        Err(EngineError::Store(e)) => Err(store_failed("import failed; nothing was written", e)),
        Err(other) => Err(CliError::failed(format!(
            "import failed; nothing was written: {other}"
        ))),
    }
}

/// Every problem of the file, in line order, one line each.
fn invalid_file(path: &str, mut problems: Vec<(usize, FieldError)>) -> CliError {
    // Stable: a row's problems stay in column order.
    problems.sort_by_key(|(line, _)| *line);
    let mut lines: Vec<usize> = problems.iter().map(|(line, _)| *line).collect();
    lines.dedup();
    CliError::Failed {
        summary: format!(
            "{path}: {} in {}; nothing was written",
            plural(problems.len(), "problem"),
            plural(lines.len(), "row")
        ),
        details: problems
            .iter()
            .map(|(line, e)| format!("line {line}: {}: {}", column_of(&e.field), e.message))
            .collect(),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
