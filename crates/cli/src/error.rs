//! Why a command did not succeed, and the exit code that says so.

use serde_json::{Value, json};

/// Exit code when the work itself failed (a conflict, invalid rows, an unreachable database).
pub const EXIT_FAILED: u8 = 1;
/// Exit code for a usage or configuration error: the command was not run as asked.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the configuration is wrong; nothing was attempted.
    #[error("{0}")]
    Usage(String),
    /// The work was attempted and failed; `details` lists every individual problem (one per line).
    #[error("{summary}")]
    Failed {
        summary: String,
        details: Vec<String>,
    },
    /// The work was done only in part: `report` says what was done (with `--json` it is printed,
    /// with the error's fields added), `details` lists every problem (one per line).
    #[error("{summary}")]
    Incomplete {
        summary: String,
        details: Vec<String>,
        report: Value,
    },
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    pub fn failed(summary: impl Into<String>) -> Self {
        CliError::Failed {
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Failed { .. } | CliError::Incomplete { .. } => EXIT_FAILED,
        }
    }

    /// Every line a person should read, summary first.
    pub fn lines(&self) -> Vec<String> {
        match self {
            CliError::Usage(message) => vec![message.clone()],
            CliError::Failed { summary, details }
            | CliError::Incomplete {
                summary, details, ..
            } => std::iter::once(summary.clone())
                .chain(details.iter().cloned())
                .collect(),
        }
    }

    /// The error as the one JSON object `--json` prints.
    pub fn to_json(&self) -> Value {
        match self {
            CliError::Usage(message) => json!({ "error": message, "exit_code": EXIT_USAGE }),
            CliError::Failed { summary, details } => json!({
                "error": summary,
                "details": details,
                "exit_code": EXIT_FAILED,
            }),
            CliError::Incomplete {
                summary,
                details,
                report,
            } => {
                let mut object = match report {
                    Value::Object(fields) => fields.clone(),
                    other => serde_json::Map::from_iter([("report".to_owned(), other.clone())]),
                };
                object.insert("error".to_owned(), json!(summary));
                object.insert("details".to_owned(), json!(details));
                object.insert("exit_code".to_owned(), json!(EXIT_FAILED));
                Value::Object(object)
            }
        }
    }
}
