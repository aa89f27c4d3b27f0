//! The `$batch` wire format: writing a multipart/mixed request of independent PATCHes and
//! reading the multipart/mixed response, one part per operation, in order.
//!
//! Hand-written on purpose: there is no maintained Rust crate for OData batch payloads, and the
//! subset needed here (no change sets, `application/http` parts only) is small.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

/// One update inside a batch: `PATCH {url}` with `If-Match: *` and a JSON body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatchPart<'a> {
    /// Absolute URL of the record, e.g. `https://org.crm4.dynamics.com/api/data/v9.2/contacts(…)`.
    pub url: &'a str,
    /// The serialised JSON object with the changed columns.
    pub json: &'a str,
}

/// The response to one operation of a batch.
#[derive(Debug)]
pub(crate) struct PartResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A fresh boundary; the uuid keeps it from ever occurring inside a JSON body.
pub(crate) fn new_boundary() -> String {
    format!("batch_{}", Uuid::new_v4())
}

pub(crate) fn request_content_type(boundary: &str) -> String {
    format!("multipart/mixed; boundary=\"{boundary}\"")
}

/// Writes the request body. Operations are independent (no change set): with
/// `Prefer: odata.continue-on-error` each one succeeds or fails on its own.
pub(crate) fn write_patch_batch(boundary: &str, parts: &[PatchPart<'_>]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!(
            "--{boundary}\r\n\
             Content-Type: application/http\r\n\
             Content-Transfer-Encoding: binary\r\n\
             \r\n\
             PATCH {url} HTTP/1.1\r\n\
             Content-Type: application/json; type=entry\r\n\
             If-Match: *\r\n\
             \r\n\
             {json}\r\n",
            url = part.url,
            json = part.json,
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

/// The `boundary` parameter of a multipart Content-Type, quoted or not.
pub(crate) fn boundary_of(content_type: &str) -> Option<&str> {
    let (media_type, parameters) = content_type.split_once(';')?;
    if !media_type.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    parameters.split(';').find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|quoted| quoted.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty()).then_some(value)
    })
}

/// Splits a batch response into its parts, in order. Tolerates LF-only line endings, a
/// preamble, transport padding after delimiters and a missing close delimiter.
pub(crate) fn read_batch_response(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<PartResponse>, String> {
    let boundary = boundary_of(content_type).ok_or_else(|| {
        format!("batch response is not multipart/mixed with a boundary: {content_type:?}")
    })?;
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);

    let first = find_delimiter(&text, &delimiter)
        .ok_or_else(|| "batch response contains no part delimiter".to_owned())?;
    let mut rest = &text[first + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with("--") {
            break;
        }
        let content_start = rest.find('\n').map_or(rest.len(), |newline| newline + 1);
        let after_delimiter_line = &rest[content_start..];
        match find_delimiter(after_delimiter_line, &delimiter) {
            Some(next) => {
                let content = strip_one_line_ending(&after_delimiter_line[..next]);
                parts.push(read_part(content)?);
                rest = &after_delimiter_line[next + delimiter.len()..];
            }
            None if after_delimiter_line.trim().is_empty() => break,
            None => {
                // The close delimiter is missing but the last part is complete.
                parts.push(read_part(after_delimiter_line.trim_end())?);
                break;
            }
        }
    }
    Ok(parts)
}

/// Position of the next delimiter line: at the start of a line and not merely a prefix of a
/// longer boundary.
fn find_delimiter(text: &str, delimiter: &str) -> Option<usize> {
    text.match_indices(delimiter).map(|(at, _)| at).find(|&at| {
        let at_line_start = at == 0 || text.as_bytes()[at - 1] == b'\n';
        let ends_cleanly = text[at + delimiter.len()..]
            .chars()
            .next()
            .is_none_or(|next| matches!(next, '-' | '\r' | '\n' | ' ' | '\t'));
        at_line_start && ends_cleanly
    })
}

/// The line ending before a delimiter belongs to the delimiter (RFC 2046).
fn strip_one_line_ending(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// One part: MIME headers, blank line, then an embedded HTTP response.
fn read_part(content: &str) -> Result<PartResponse, String> {
    let (mime_headers, embedded) = split_head_and_body(content);
    let mime_headers = parse_headers(mime_headers.lines());
    if let Some(content_type) = mime_headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        && !content_type
            .to_ascii_lowercase()
            .starts_with("application/http")
    {
        return Err(format!(
            "unexpected batch part of type {content_type:?} (change sets are not used by this client)"
        ));
    }

    let (head, body) = split_head_and_body(embedded.trim_start_matches(['\r', '\n']));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)
        .ok_or_else(|| format!("batch part has no HTTP status line: {status_line:?}"))?;
    Ok(PartResponse {
        status,
        headers: parse_headers(lines),
        body: body.trim_end().as_bytes().to_vec(),
    })
}

/// `HTTP/1.1 204 No Content` → 204.
fn parse_status_line(line: &str) -> Option<StatusCode> {
    let mut words = line.split_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = words.next()?.parse::<u16>().ok()?;
    StatusCode::from_u16(code).ok()
}

/// Splits at the first blank line (CRLF or LF); without one, everything is head.
fn split_head_and_body(text: &str) -> (&str, &str) {
    let crlf = text.find("\r\n\r\n").map(|at| (at, 4));
    let lf = text.find("\n\n").map(|at| (at, 2));
    let earliest = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match earliest {
        Some((at, separator_len)) => (&text[..at], &text[at + separator_len..]),
        None => (text, ""),
    }
}

/// `Name: value` lines; lines that are not valid headers are skipped rather than failing the
/// whole batch, since only Content-Type and Retry-After are ever consulted.
fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> HeaderMap {
    lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
            let value = HeaderValue::from_str(value.trim()).ok()?;
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_part_per_operation_and_a_close_delimiter() {
        let body = write_patch_batch(
            "batch_x",
            &[
                PatchPart {
                    url: "https://org.example/api/data/v9.2/contacts(1)",
                    json: r#"{"a":true}"#,
                },
                PatchPart {
                    url: "https://org.example/api/data/v9.2/contacts(k='v')",
                    json: r#"{"b":2}"#,
                },
            ],
        );
        assert_eq!(
            body,
            "--batch_x\r\n\
             Content-Type: application/http\r\n\
             Content-Transfer-Encoding: binary\r\n\
             \r\n\
             PATCH https://org.example/api/data/v9.2/contacts(1) HTTP/1.1\r\n\
             Content-Type: application/json; type=entry\r\n\
             If-Match: *\r\n\
             \r\n\
             {\"a\":true}\r\n\
             --batch_x\r\n\
             Content-Type: application/http\r\n\
             Content-Transfer-Encoding: binary\r\n\
             \r\n\
             PATCH https://org.example/api/data/v9.2/contacts(k='v') HTTP/1.1\r\n\
             Content-Type: application/json; type=entry\r\n\
             If-Match: *\r\n\
             \r\n\
             {\"b\":2}\r\n\
             --batch_x--\r\n"
        );
    }

    #[test]
    fn the_request_boundary_is_quoted_and_unique() {
        let a = new_boundary();
        let b = new_boundary();
        assert_ne!(a, b);
        assert!(a.starts_with("batch_"));
        assert_eq!(
            request_content_type("batch_x"),
            "multipart/mixed; boundary=\"batch_x\""
        );
    }

    #[test]
    fn reads_the_boundary_quoted_or_not() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=batchresponse_1"),
            Some("batchresponse_1")
        );
        assert_eq!(
            boundary_of("Multipart/Mixed;charset=utf-8; BOUNDARY=\"batchresponse_2\""),
            Some("batchresponse_2")
        );
        assert_eq!(boundary_of("application/json"), None);
        assert_eq!(boundary_of("multipart/mixed"), None);
        assert_eq!(boundary_of("multipart/mixed; boundary=\"\""), None);
    }

    /// Shaped like a real Dataverse response with `Prefer: odata.continue-on-error`.
    const DATAVERSE_RESPONSE: &str = "--batchresponse_c1bd\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        HTTP/1.1 204 No Content\r\n\
        OData-Version: 4.0\r\n\
        OData-EntityId: https://org.example/api/data/v9.2/contacts(1)\r\n\
        \r\n\
        \r\n\
        --batchresponse_c1bd\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        HTTP/1.1 404 Not Found\r\n\
        Content-Type: application/json; odata.metadata=minimal\r\n\
        OData-Version: 4.0\r\n\
        \r\n\
        {\"error\":{\"code\":\"0x80040217\",\"message\":\"contact With Id = 2 Does Not Exist\"}}\r\n\
        --batchresponse_c1bd\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        HTTP/1.1 429 Too Many Requests\r\n\
        Retry-After: 9\r\n\
        \r\n\
        \r\n\
        --batchresponse_c1bd--\r\n";

    #[test]
    fn reads_statuses_headers_and_bodies_in_order() {
        let parts = read_batch_response(
            "multipart/mixed; boundary=batchresponse_c1bd",
            DATAVERSE_RESPONSE.as_bytes(),
        )
        .unwrap();
        let statuses: Vec<u16> = parts.iter().map(|part| part.status.as_u16()).collect();
        assert_eq!(statuses, [204, 404, 429]);
        assert!(parts[0].body.is_empty());
        assert_eq!(
            parts[1].body,
            br#"{"error":{"code":"0x80040217","message":"contact With Id = 2 Does Not Exist"}}"#
        );
        assert_eq!(
            parts[1].headers["content-type"],
            "application/json; odata.metadata=minimal"
        );
        assert_eq!(parts[2].headers["retry-after"], "9");
    }

    #[test]
    fn tolerates_lf_line_endings_a_preamble_and_no_close_delimiter() {
        let body = "this is a preamble\n\
            --b\n\
            Content-Type: application/http\n\
            \n\
            HTTP/1.1 204 No Content\n\
            \n\
            --b\n\
            Content-Type: application/http\n\
            \n\
            HTTP/1.1 400 Bad Request\n\
            Content-Type: application/json\n\
            \n\
            {\"error\":{\"code\":\"\",\"message\":\"bad\"}}\n";
        let parts =
            read_batch_response("multipart/mixed; boundary=\"b\"", body.as_bytes()).unwrap();
        let statuses: Vec<u16> = parts.iter().map(|part| part.status.as_u16()).collect();
        assert_eq!(statuses, [204, 400]);
        assert_eq!(parts[1].body, br#"{"error":{"code":"","message":"bad"}}"#);
    }

    #[test]
    fn a_longer_boundary_sharing_the_prefix_is_not_a_delimiter() {
        let body = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n--b1 is text\r\n--b--\r\n";
        let parts = read_batch_response("multipart/mixed; boundary=b", body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"--b1 is text");
    }

    #[test]
    fn an_empty_batch_response_has_no_parts() {
        let parts = read_batch_response("multipart/mixed; boundary=b", b"--b--\r\n").unwrap();
        assert!(parts.is_empty());
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let content_type = "multipart/mixed; boundary=b";
        assert!(read_batch_response("application/json", b"{}").is_err());
        assert!(read_batch_response(content_type, b"no delimiter here").is_err());
        let no_status = "--b\r\nContent-Type: application/http\r\n\r\nnot a status\r\n--b--";
        assert!(read_batch_response(content_type, no_status.as_bytes()).is_err());
        let change_set = "--b\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n--changesetresponse_1--\r\n--b--";
        assert!(read_batch_response(content_type, change_set.as_bytes()).is_err());
        let bad_code = "--b\r\n\r\nHTTP/1.1 99999 Huge\r\n\r\n--b--";
        assert!(read_batch_response(content_type, bad_code.as_bytes()).is_err());
        for garbage in [&b"--b"[..], b"--b\r\n", b"--", b"\xff\xfe--b\r\n\r\n"] {
            let _ = read_batch_response(content_type, garbage);
        }
    }
}
