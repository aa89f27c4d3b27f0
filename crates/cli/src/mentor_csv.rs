//! Reading mentors from a CSV file into import rows, with every problem tied to its line.

use std::collections::HashSet;
use std::io::Read;

use chrono::NaiveDate;
use engine::{CertificationInput, FieldError, ImportRow, MentorInput};
use uuid::Uuid;

/// The columns an import file may have; the header names them, in any order.
pub const COLUMNS: [&str; 8] = [
    "full_name",
    "email",
    "phone",
    "listed_publicly",
    "dynamics_contact_id",
    "dynamics_key",
    "certification_issued_on",
    "certification_expires_on",
];
/// Columns every file must have.
pub const REQUIRED_COLUMNS: [&str; 2] = ["full_name", "email"];

pub const COLUMNS_HELP: &str = "\
CSV columns (the first line is the header; order is free; only full_name and email are required):
  full_name                  the mentor's name
  email                      unique within the organisation
  phone                      digits, spaces and + - ( )
  listed_publicly            true/false, yes/no or 1/0 (default true)
  dynamics_contact_id        Dynamics contact GUID (or dynamics_key, not both)
  dynamics_key               Dynamics alternate key, e.g. a member number
  certification_issued_on    YYYY-MM-DD
  certification_expires_on   YYYY-MM-DD, the last valid day (both dates or neither)
Empty cells count as absent. A mentor with a valid certification starts active, otherwise
certification_expired. Any invalid row stops the whole import; every problem is reported with its line.";

/// The file's header is unusable: no row can be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty; the first line must be a header naming the columns")]
    Empty,
    #[error("unknown column `{0}` in the header; the columns are: {columns}", columns = COLUMNS.join(", "))]
    Unknown(String),
    #[error("column `{0}` appears twice in the header")]
    Duplicate(String),
    #[error("the header has no `{0}` column, which is required")]
    MissingRequired(&'static str),
    #[error("cannot read the header: {0}")]
    Unreadable(String),
}

/// What the file holds: rows to hand to the engine, and the problems found while reading them.
/// A row with problems is still returned (with the bad cells left out) so that the engine's checks
/// report that row's other problems too.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub rows: Vec<ImportRow>,
    pub errors: Vec<(usize, FieldError)>,
}

/// Read every row of `input`. Line numbers are 1-based lines of the file; the header is line 1.
pub fn read_mentors(input: impl Read) -> Result<ParsedFile, HeaderError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(input);
    let columns = header_columns(&mut reader)?;
    let mut parsed = ParsedFile::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                if record.iter().all(str::is_empty) {
                    // Rows of empty cells (spreadsheets export them after the data) are not mentors.
                    continue;
                }
                let mut cells = Cells {
                    columns: &columns,
                    record: &record,
                    line,
                    errors: &mut parsed.errors,
                };
                let mentor = cells.mentor();
                parsed.rows.push(ImportRow { line, mentor });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                // A malformed row is reported and skipped; after an I/O error nothing more can be read.
                let (message, can_go_on) = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (
                        format!("the row has {len} fields, the header has {expected_len}"),
                        true,
                    ),
                    csv::ErrorKind::Utf8 { .. } => ("the row is not valid UTF-8".to_owned(), true),
                    _ => (e.to_string(), false),
                };
                parsed.errors.push((line, FieldError::new("row", message)));
                if !can_go_on {
                    break;
                }
            }
        }
    }
    Ok(parsed)
}

fn header_columns<R: Read>(reader: &mut csv::Reader<R>) -> Result<Vec<&'static str>, HeaderError> {
    let header = reader
        .headers()
        .map_err(|e| HeaderError::Unreadable(e.to_string()))?;
    if header.iter().all(str::is_empty) {
        return Err(HeaderError::Empty);
    }
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(header.len());
    for name in header.iter() {
        // Spreadsheet programs often save UTF-8 with a byte order mark.
        let name = name.trim_start_matches('\u{feff}').trim();
        let column = COLUMNS
            .into_iter()
            .find(|c| *c == name)
            .ok_or_else(|| HeaderError::Unknown(name.to_owned()))?;
        if !seen.insert(column) {
            return Err(HeaderError::Duplicate(column.to_owned()));
        }
        columns.push(column);
    }
    if let Some(missing) = REQUIRED_COLUMNS.into_iter().find(|c| !seen.contains(c)) {
        return Err(HeaderError::MissingRequired(missing));
    }
    Ok(columns)
}

/// One data row being turned into a mentor, collecting the problems of its cells.
struct Cells<'a> {
    columns: &'a [&'static str],
    record: &'a csv::StringRecord,
    line: usize,
    errors: &'a mut Vec<(usize, FieldError)>,
}

impl Cells<'_> {
    fn mentor(&mut self) -> MentorInput {
        MentorInput {
            full_name: self.text("full_name").unwrap_or_default(),
            email: self.text("email").unwrap_or_default(),
            phone: self.text("phone"),
            listed_publicly: self.parsed("listed_publicly", parse_bool),
            dynamics_contact_id: self.parsed("dynamics_contact_id", |raw| {
                Uuid::parse_str(raw).map_err(|_| format!("`{raw}` is not a GUID"))
            }),
            dynamics_key: self.text("dynamics_key"),
            certification: self.certification(),
        }
    }

    fn certification(&mut self) -> Option<CertificationInput> {
        const ISSUED: &str = "certification_issued_on";
        const EXPIRES: &str = "certification_expires_on";
        let issued_given = self.text(ISSUED).is_some();
        let expires_given = self.text(EXPIRES).is_some();
        let issued_on = self.parsed(ISSUED, parse_date);
        let expires_on = self.parsed(EXPIRES, parse_date);
        match (issued_given, expires_given) {
            (true, false) => self.error(EXPIRES, format!("is required when {ISSUED} is given")),
            (false, true) => self.error(ISSUED, format!("is required when {EXPIRES} is given")),
            _ => {}
        }
        Some(CertificationInput {
            issued_on: issued_on?,
            expires_on: expires_on?,
        })
    }

    /// The cell of `column`, `None` when the file has no such column or the cell is empty.
    fn text(&self, column: &str) -> Option<String> {
        let index = self.columns.iter().position(|c| *c == column)?;
        self.record
            .get(index)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// The cell of `column` parsed; a cell that does not parse is recorded and left out.
    fn parsed<T>(&mut self, column: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.text(column)?;
        parse(&raw)
            .map_err(|message| self.error(column, message))
            .ok()
    }

    fn error(&mut self, column: &str, message: String) {
        self.errors
            .push((self.line, FieldError::new(column, message)));
    }
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{raw}` is not true/false, yes/no or 1/0")),
    }
}

fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        // `%Y` also accepts signed and five-digit years; a calendar date here is exactly YYYY-MM-DD.
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| format!("`{raw}` is not a date (YYYY-MM-DD)"))
}

/// The CSV column a field error of the engine is about (its certification fields are nested).
pub fn column_of(field: &str) -> &str {
    match field {
        "certification.issued_on" => "certification_issued_on",
        "certification.expires_on" => "certification_expires_on",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ParsedFile {
        read_mentors(text.as_bytes()).unwrap()
    }

    fn errors(parsed: &ParsedFile) -> Vec<(usize, &str)> {
        parsed
            .errors
            .iter()
            .map(|(line, e)| (*line, e.field.as_str()))
            .collect()
    }

    #[test]
    fn reads_all_columns_with_line_numbers() {
        let parsed = read(
            "full_name,email,phone,listed_publicly,dynamics_contact_id,dynamics_key,certification_issued_on,certification_expires_on\n\
             Kari Nordmann,kari@example.no,+47 22 33 44 55,no,6f1d0c3e-3a55-4a43-9e53-8f1f3f1f0b6e,,2026-01-01,2027-12-31\n\
             \"Ola \"\"Olsen\"\" Nordmann\",ola@example.no,,,,M-17,,\n",
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows.len(), 2);
        let kari = &parsed.rows[0];
        assert_eq!(kari.line, 2);
        assert_eq!(kari.mentor.listed_publicly, Some(false));
        assert!(kari.mentor.dynamics_contact_id.is_some());
        let certification = kari.mentor.certification.unwrap();
        assert_eq!(certification.expires_on, "2027-12-31".parse().unwrap());
        let ola = &parsed.rows[1];
        assert_eq!(ola.line, 3);
        assert_eq!(ola.mentor.full_name, "Ola \"Olsen\" Nordmann");
        assert_eq!(ola.mentor.listed_publicly, None);
        assert_eq!(ola.mentor.dynamics_key.as_deref(), Some("M-17"));
        assert!(ola.mentor.certification.is_none());
        assert!(ola.mentor.phone.is_none());
    }

    #[test]
    fn columns_may_come_in_any_order_and_only_the_required_ones_are_needed() {
        let parsed = read("\u{feff}email , full_name\nkari@example.no,Kari\n");
        assert_eq!(parsed.rows[0].mentor.full_name, "Kari");
        assert_eq!(parsed.rows[0].mentor.email, "kari@example.no");
    }

    #[test]
    fn a_multi_line_cell_keeps_the_following_line_numbers_right() {
        let parsed =
            read("full_name,email\n\"Kari\nNordmann\",kari@example.no\nOla,ola@example.no\n");
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.rows[1].line, 4);
    }

    #[test]
    fn every_bad_cell_is_reported_with_its_line() {
        let parsed = read(
            "full_name,email,listed_publicly,dynamics_contact_id,certification_issued_on,certification_expires_on\n\
             Kari,kari@example.no,maybe,not-a-guid,2026-01-01,\n\
             Ola,ola@example.no,yes,,,2026-02-30\n\
             Per,per@example.no\n\
             Liv,liv@example.no,1,,2026-01-01,2027-01-01\n",
        );
        assert_eq!(
            errors(&parsed),
            [
                (2, "listed_publicly"),
                (2, "dynamics_contact_id"),
                (2, "certification_expires_on"),
                (3, "certification_expires_on"),
                (3, "certification_issued_on"),
                (4, "row"),
            ]
        );
        // Rows with problems are still handed on so the engine can name their other problems.
        assert_eq!(
            parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 3, 5]
        );
        assert!(parsed.rows[0].mentor.certification.is_none());
    }

    #[test]
    fn a_bad_header_is_refused_by_name() {
        let header = |text: &str| read_mentors(text.as_bytes()).unwrap_err();
        assert_eq!(header(""), HeaderError::Empty);
        assert_eq!(
            header("full_name,email,colour\n"),
            HeaderError::Unknown("colour".into())
        );
        assert_eq!(
            header("full_name,email,email\n"),
            HeaderError::Duplicate("email".into())
        );
        assert_eq!(
            header("full_name,phone\n"),
            HeaderError::MissingRequired("email")
        );
    }

    #[test]
    fn booleans_and_dates() {
        for (raw, value) in [
            ("TRUE", true),
            ("Yes", true),
            ("1", true),
            ("false", false),
            ("NO", false),
            ("0", false),
        ] {
            assert_eq!(parse_bool(raw), Ok(value), "{raw}");
        }
        assert!(parse_bool("y").is_err());
        assert!(parse_date("2026-02-28").is_ok());
        for bad in [
            "2026-02-29",
            "2026-2-28",
            "28.02.2026",
            "+2026-02-28",
            "20260-02-28",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
