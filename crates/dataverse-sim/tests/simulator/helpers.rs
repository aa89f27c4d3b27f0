//! Starting a simulator, getting tokens, and reading `$batch` responses back.

use mentor_status_dataverse_sim::{SimConfig, Simulator};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

pub struct Harness {
    pub sim: Simulator,
    pub http: Client,
    pub token: String,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Harness {
        let secret = config.client_secret.clone();
        let sim = Simulator::start(config).await.expect("simulator starts");
        let http = Client::new();
        let token = request_token(&sim, &http, &secret).await;
        Harness { sim, http, token }
    }

    /// `{base}/api/data/v9.2/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/data/v9.2/{path}", self.sim.base_url())
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.authorized(self.http.get(self.url(path)))
    }

    pub fn patch(&self, path: &str, body: Value) -> RequestBuilder {
        self.authorized(self.http.patch(self.url(path))).json(&body)
    }

    pub fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .bearer_auth(&self.token)
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0")
            .header("Accept", "application/json")
    }

    /// Send a `$batch` of `(method, url, body)` operations.
    pub async fn batch(
        &self,
        operations: &[(&str, String, Option<Value>)],
        prefer: Option<&str>,
    ) -> Response {
        let boundary = format!("batch_{}", Uuid::new_v4());
        let mut request = self
            .authorized(self.http.post(self.url("$batch")))
            .header(
                CONTENT_TYPE,
                format!("multipart/mixed; boundary=\"{boundary}\""),
            )
            .body(batch_body(&boundary, operations));
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        request.send().await.expect("batch sent")
    }

    /// Insert a contact with these columns and return its id.
    pub fn seed(&self, columns: Value) -> Uuid {
        let id = Uuid::new_v4();
        self.sim.insert_contact(id, object(columns));
        id
    }
}

pub async fn request_token(sim: &Simulator, http: &Client, secret: &str) -> String {
    let response = token_request(sim, http, "sim-client", secret, &sim.scope()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub async fn token_request(
    sim: &Simulator,
    http: &Client,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> Response {
    http.post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .expect("token request sent")
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

fn batch_body(boundary: &str, operations: &[(&str, String, Option<Value>)]) -> String {
    let mut body = String::new();
    for (method, url, json) in operations {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             {method} {url} HTTP/1.1\r\n"
        ));
        match json {
            Some(json) => body.push_str(&format!(
                "Content-Type: application/json; type=entry\r\nIf-Match: *\r\n\r\n{json}\r\n"
            )),
            None => body.push_str("Accept: application/json\r\n\r\n"),
        }
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

/// One part of a batch response: its status and (JSON) body.
#[derive(Debug)]
pub struct Part {
    pub status: u16,
    pub body: Option<Value>,
}

/// Reads a batch response the way a client must: boundary from the Content-Type, then each part's
/// inner status line and body.
pub async fn read_batch(response: Response) -> (u16, Vec<Part>) {
    let status = response.status().as_u16();
    let boundary = boundary_of(response.headers());
    let text = response.text().await.expect("batch body");
    let parts = text
        .split(&format!("--{boundary}"))
        .filter(|part| part.contains("HTTP/1.1"))
        .map(|part| {
            let inner = part.split_once("\r\n\r\n").expect("part headers").1;
            let status_line = inner.lines().next().expect("status line");
            let status = status_line
                .split(' ')
                .nth(1)
                .expect("status")
                .parse()
                .expect("numeric status");
            let body = inner
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.trim())
                .filter(|b| !b.is_empty());
            Part {
                status,
                body: body.map(|b| serde_json::from_str(b).expect("JSON part body")),
            }
        })
        .collect();
    (status, parts)
}

fn boundary_of(headers: &HeaderMap) -> String {
    let content_type = headers[CONTENT_TYPE].to_str().expect("text Content-Type");
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    content_type
        .split_once("boundary=")
        .expect("boundary")
        .1
        .trim_matches('"')
        .to_owned()
}
