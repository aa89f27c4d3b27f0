//! Writing a `$batch` response: one `application/http` part per executed operation, CRLF line ends.

use crate::response::SimResponse;

/// The answer to one operation, with the `Content-ID` of its request part.
pub(crate) struct PartResponse {
    pub(crate) content_id: Option<String>,
    pub(crate) response: SimResponse,
}

pub(crate) fn render(boundary: &str, parts: &[PartResponse]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        ));
        if let Some(id) = &part.content_id {
            out.push_str(&format!("Content-ID: {id}\r\n"));
        }
        let response = &part.response;
        out.push_str(&format!(
            "\r\nHTTP/1.1 {} {}\r\n",
            response.status.as_u16(),
            response.status.canonical_reason().unwrap_or_default()
        ));
        for (name, value) in &response.headers {
            out.push_str(&format!(
                "{name}: {}\r\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        out.push_str("\r\n");
        out.push_str(&String::from_utf8_lossy(&response.body));
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::*;

    #[test]
    fn parts_carry_status_lines_headers_and_bodies() {
        let parts = [
            PartResponse {
                content_id: Some("1".to_owned()),
                response: SimResponse::new(StatusCode::NO_CONTENT),
            },
            PartResponse {
                content_id: None,
                response: SimResponse::json(StatusCode::NOT_FOUND, &json!({"error": {}})),
            },
        ];
        let expected = "--r\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\
            Content-ID: 1\r\n\r\n\
            HTTP/1.1 204 No Content\r\nodata-version: 4.0\r\n\r\n\r\n\
            --r\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 404 Not Found\r\nodata-version: 4.0\r\n\
            content-type: application/json; odata.metadata=minimal\r\n\r\n\
            {\"error\":{}}\r\n\
            --r--\r\n";
        assert_eq!(render("r", &parts), expected);
    }
}
