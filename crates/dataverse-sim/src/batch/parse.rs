//! Reading a `$batch` request: a `multipart/mixed` body whose parts are HTTP requests.
//!
//! Written by hand: no maintained crate parses OData batch payloads (HTTP messages nested in MIME
//! parts), and the subset Dataverse clients send is small. Lines may end in CRLF or a bare LF.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};

use crate::response::ApiError;

/// One request inside a batch.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The part's `Content-ID`, echoed in its response part.
    pub(crate) content_id: Option<String>,
    pub(crate) method: Method,
    /// As written in the request line: absolute, an absolute path, or relative to the service root.
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// The boundary of `multipart/mixed; boundary=batch_1` (the value may be quoted).
pub(crate) fn boundary(content_type: &str) -> Result<String, ApiError> {
    let mut items = content_type.split(';');
    let media_type = items.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("multipart/mixed") {
        return Err(ApiError::bad_request(format!(
            "A $batch request needs Content-Type multipart/mixed, not '{media_type}'."
        )));
    }
    items
        .filter_map(|parameter| parameter.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|boundary| !boundary.is_empty())
        .ok_or_else(|| ApiError::bad_request("The multipart/mixed Content-Type has no boundary."))
}

/// Splits the body at the boundary and reads each part as one operation.
pub(crate) fn parse(body: &str, boundary: &str) -> Result<Vec<Operation>, ApiError> {
    let delimiter = format!("--{boundary}");
    let close_delimiter = format!("--{boundary}--");
    let mut parts: Vec<Vec<&str>> = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    let mut closed = false;
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Delimiter lines may carry trailing white space (RFC 2046 "transport padding").
        let bare = line.trim_end();
        if bare == close_delimiter {
            parts.extend(current.take());
            closed = true;
            break;
        }
        if bare == delimiter {
            parts.extend(current.take());
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
        // Lines before the first delimiter are the preamble, which MIME says to ignore.
    }
    if !closed {
        return Err(ApiError::bad_request(format!(
            "The batch does not end with the closing delimiter '{close_delimiter}'."
        )));
    }
    parts
        .iter()
        .enumerate()
        .map(|(index, lines)| {
            parse_part(lines).map_err(|problem| {
                ApiError::bad_request(format!("Batch part {}: {problem}", index + 1))
            })
        })
        .collect()
}

fn parse_part(lines: &[&str]) -> Result<Operation, String> {
    let (part_headers, rest) = read_headers(lines)?;
    let content_type = text_header(&part_headers, &header::CONTENT_TYPE).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("multipart/mixed") {
        return Err("change sets are not supported by the simulator".to_owned());
    }
    if !media_type.eq_ignore_ascii_case("application/http") {
        return Err(format!(
            "the part's Content-Type must be application/http, not '{content_type}'"
        ));
    }
    let encoding = text_header(&part_headers, "content-transfer-encoding").unwrap_or_default();
    if !encoding.eq_ignore_ascii_case("binary") {
        return Err(format!(
            "the part's Content-Transfer-Encoding must be binary, not '{encoding}'"
        ));
    }

    let rest = skip_blank_lines(rest);
    let Some((request_line, rest)) = rest.split_first() else {
        return Err("the part holds no request".to_owned());
    };
    let (method, url) = parse_request_line(request_line)?;
    let (headers, body_lines) = read_headers(rest)?;
    Ok(Operation {
        content_id: text_header(&part_headers, "content-id").map(str::to_owned),
        method,
        url,
        headers,
        body: body_lines.join("\n").trim().to_owned(),
    })
}

/// `PATCH https://…/contacts(…) HTTP/1.1`.
fn parse_request_line(line: &str) -> Result<(Method, String), String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some(method), Some(url), Some(version), None) if version.starts_with("HTTP/") => {
            let method = Method::from_bytes(method.as_bytes())
                .map_err(|_| format!("'{method}' is not an HTTP method"))?;
            Ok((method, url.to_owned()))
        }
        _ => Err(format!("'{line}' is not an HTTP request line")),
    }
}

/// Header lines up to the first blank line; returns the headers and the lines after the blank one.
fn read_headers<'a>(lines: &'a [&'a str]) -> Result<(HeaderMap, &'a [&'a str]), String> {
    let mut headers = HeaderMap::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            return Ok((headers, &lines[index + 1..]));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("'{line}' is not a header line"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("'{name}' is not a header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("the value of header '{name}' is not valid"))?;
        headers.append(name, value);
    }
    Ok((headers, &[]))
}

fn skip_blank_lines<'a>(lines: &'a [&'a str]) -> &'a [&'a str] {
    let first = lines
        .iter()
        .position(|line| !line.trim().is_empty())
        .unwrap_or(lines.len());
    &lines[first..]
}

fn text_header(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    const BATCH: &str = "preamble to ignore\r\n\
        --batch_42\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        Content-ID: 1\r\n\
        \r\n\
        PATCH https://org.crm4.dynamics.com/api/data/v9.2/contacts(hlf_memberno='7') HTTP/1.1\r\n\
        Content-Type: application/json; type=entry\r\n\
        If-Match: *\r\n\
        \r\n\
        {\"hlf_showonwebsite\":true}\r\n\
        --batch_42\r\n\
        Content-Type: application/http\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        GET contacts?$select=fullname HTTP/1.1\r\n\
        Accept: application/json\r\n\
        \r\n\
        --batch_42--\r\n";

    #[test]
    fn reads_the_boundary_quoted_or_not() {
        assert_eq!(
            boundary("multipart/mixed; boundary=\"batch_42\"").ok(),
            Some("batch_42".to_owned())
        );
        assert_eq!(
            boundary("Multipart/Mixed;boundary=batch_42").ok(),
            Some("batch_42".to_owned())
        );
        assert!(boundary("application/json").is_err());
        assert!(boundary("multipart/mixed").is_err());
    }

    #[test]
    fn reads_operations_with_their_headers_and_bodies() {
        let operations = parse(BATCH, "batch_42").map_err(|e| e.message);
        let operations = operations.as_deref().unwrap_or_default();
        assert_eq!(operations.len(), 2);
        let patch = &operations[0];
        assert_eq!(patch.method, Method::PATCH);
        assert_eq!(patch.content_id.as_deref(), Some("1"));
        assert_eq!(
            patch.url,
            "https://org.crm4.dynamics.com/api/data/v9.2/contacts(hlf_memberno='7')"
        );
        assert_eq!(text_header(&patch.headers, "if-match"), Some("*"));
        assert_eq!(patch.body, "{\"hlf_showonwebsite\":true}");
        let get = &operations[1];
        assert_eq!(
            (get.method.clone(), get.url.as_str()),
            (Method::GET, "contacts?$select=fullname")
        );
        assert_eq!(get.body, "");
    }

    #[test]
    fn bare_line_feeds_work_too() {
        let lf_only = BATCH.replace("\r\n", "\n");
        assert_eq!(
            parse(&lf_only, "batch_42").map(|ops| ops.len()).ok(),
            Some(2)
        );
    }

    #[test]
    fn malformed_batches_are_400() {
        let change_set = "--b\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n--changeset_1--\r\n--b--\r\n";
        let not_http = "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n";
        let no_encoding =
            "--b\r\nContent-Type: application/http\r\n\r\nGET contacts HTTP/1.1\r\n\r\n--b--\r\n";
        let bad_line = "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET contacts\r\n\r\n--b--\r\n";
        let unclosed = "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET contacts HTTP/1.1\r\n\r\n";
        for body in [change_set, not_http, no_encoding, bad_line, unclosed] {
            assert_eq!(
                parse(body, "b").map(|_| ()).map_err(|e| e.status),
                Err(StatusCode::BAD_REQUEST),
                "{body}"
            );
        }
        let message = parse(change_set, "b").err().map(|e| e.message);
        assert!(message.is_some_and(|m| m.contains("change sets are not supported")));
    }
}
