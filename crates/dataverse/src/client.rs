//! The client: every Web API call passes the throttling gate, carries a bearer token, retries a
//! 401 once with a fresh token, and comes back classified.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, IF_MATCH,
};
use reqwest::{Method, StatusCode, Url};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tracing::debug;
use uuid::Uuid;

use crate::batch::{self, PatchPart};
use crate::classify::{self, HTML_INSTEAD_OF_JSON};
use crate::paging::PageBody;
use crate::throttle::ThrottleGate;
use crate::token::{AccessToken, TokenSettings, TokenSource};
use crate::{ClientConfig, ConfigError, DataverseError, Page, PageRequest, RecordKey};

const ODATA_MAX_VERSION: HeaderName = HeaderName::from_static("odata-maxversion");
const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");
const PREFER: HeaderName = HeaderName::from_static("prefer");

/// One record's changed columns, for [`Client::update_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub key: RecordKey,
    pub fields: Map<String, Value>,
}

/// The identity the credentials act as (`GET WhoAmI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct WhoAmI {
    #[serde(rename = "UserId")]
    pub user_id: Uuid,
    #[serde(rename = "BusinessUnitId")]
    pub business_unit_id: Uuid,
    #[serde(rename = "OrganizationId")]
    pub organization_id: Uuid,
}

/// A Dataverse Web API client. Cheap to clone; clones share the token cache and the throttling
/// gate, so one `Client` per Dataverse environment is shared by all tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    web_api_root: Url,
    batch_size: usize,
    request_timeout: Duration,
    tokens: TokenSource,
    gate: ThrottleGate,
    /// Slots for requests on the wire ([`ClientConfig::max_concurrent_requests`]).
    in_flight: Semaphore,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("web_api_root", &self.inner.web_api_root.as_str())
            .field("batch_size", &self.inner.batch_size)
            .finish_non_exhaustive()
    }
}

/// A request described as data, so it can be sent again after a token refresh.
struct ApiRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
}

/// A response with its body read.
struct ApiResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A 2xx response together with its request's slot on the wire. The slot is released only when
/// the caller has finished interpreting the response, so a 429 inside a batch closes the gate
/// before the next request can go out.
struct Answer<'a> {
    response: ApiResponse,
    _slot: SemaphorePermit<'a>,
}

impl Client {
    /// Validates `config` and builds the client. No request is sent yet.
    pub fn new(config: ClientConfig) -> Result<Client, ConfigError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            // A redirect from Dataverse or the token endpoint is a sign-in page, never data.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "mentor-status-dataverse/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|err| ConfigError::HttpClient(classify::error_chain(&err)))?;
        let web_api_root = config.web_api_root()?;
        let tokens = TokenSource::new(
            http.clone(),
            TokenSettings {
                endpoint: config.token_endpoint()?,
                client_id: config.client_id,
                client_secret: config.client_secret,
                scope: config.scope,
                refresh_margin: config.refresh_margin,
                request_timeout: config.request_timeout,
            },
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                web_api_root,
                batch_size: config.batch_size,
                request_timeout: config.request_timeout,
                tokens,
                gate: ThrottleGate::default(),
                in_flight: Semaphore::new(config.max_concurrent_requests),
            }),
        })
    }

    /// The most operations [`Client::update_batch`] accepts.
    pub fn batch_size(&self) -> usize {
        self.inner.batch_size
    }

    /// Break-glass: use a new client secret from now on; the cached token is dropped.
    pub fn set_client_secret(&self, secret: SecretString) {
        self.inner.tokens.replace_secret(secret);
    }

    /// Proves the credentials work now: fetches a fresh token (ignoring the cache), then calls
    /// `WhoAmI` with it.
    pub async fn check_credentials(&self) -> Result<WhoAmI, DataverseError> {
        self.inner.tokens.refresh_now().await?;
        self.who_am_i().await
    }

    /// `GET WhoAmI`: the cheapest authenticated call.
    pub async fn who_am_i(&self) -> Result<WhoAmI, DataverseError> {
        let request = ApiRequest {
            method: Method::GET,
            url: self.api_url("WhoAmI")?,
            headers: HeaderMap::new(),
            body: None,
        };
        let answer = self.send(&request).await?;
        let response = &answer.response;
        classify::parse_success_json(response.status, &response.headers, &response.body)
    }

    /// Reads the `select` columns of one record (`GET {entity_set}({key})?$select=…`); a missing
    /// record is [`DataverseError::NotFound`].
    pub async fn retrieve(
        &self,
        entity_set: &str,
        key: &RecordKey,
        select: &[String],
    ) -> Result<Map<String, Value>, DataverseError> {
        let mut url = self.record_url(entity_set, key)?;
        if !select.is_empty() {
            url.query_pairs_mut()
                .append_pair("$select", &select.join(","));
        }
        let request = ApiRequest {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
        };
        let answer = self.send(&request).await?;
        let response = &answer.response;
        classify::parse_success_json(response.status, &response.headers, &response.body)
    }

    /// Updates one existing record: `PATCH` with `If-Match: *`, so a missing record is
    /// [`DataverseError::NotFound`] and is never created.
    ///
    /// [`DataverseError::Throttled`] means the request was not carried out; resend it (the
    /// client itself holds every request back until the wait is over).
    pub async fn update(
        &self,
        entity_set: &str,
        key: &RecordKey,
        fields: &Map<String, Value>,
    ) -> Result<(), DataverseError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(IF_MATCH, HeaderValue::from_static("*"));
        let request = ApiRequest {
            method: Method::PATCH,
            url: self.record_url(entity_set, key)?,
            headers,
            body: Some(Bytes::from(json_body(fields)?)),
        };
        let answer = self.send(&request).await?;
        let response = &answer.response;
        if classify::is_html(&response.headers, &response.body) {
            return Err(html_instead_of_json(response.status));
        }
        Ok(())
    }

    /// Updates up to [`Client::batch_size`] records in one `$batch` request with
    /// `Prefer: odata.continue-on-error`, so each operation succeeds or fails on its own.
    ///
    /// `Ok(results)`: `results[i]` is the outcome of `ops[i]`. `Err`: the whole request failed
    /// (throttled, unauthorized, transient, …) and no result is known for any operation; a
    /// batch larger than the batch size is refused before sending
    /// ([`DataverseError::Permanent`] with [`DataverseError::STATUS_NOT_SENT`]).
    pub async fn update_batch(
        &self,
        entity_set: &str,
        ops: &[Update],
    ) -> Result<Vec<Result<(), DataverseError>>, DataverseError> {
        if ops.len() > self.inner.batch_size {
            return Err(DataverseError::not_sent(format!(
                "a batch of {} operations exceeds the configured batch size of {}",
                ops.len(),
                self.inner.batch_size
            )));
        }
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let request = self.batch_request(entity_set, ops)?;
        let answer = self.send(&request).await?;
        let response = &answer.response;
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if classify::is_html(&response.headers, &response.body) {
            return Err(html_instead_of_json(response.status));
        }
        let parts = batch::read_batch_response(content_type, &response.body)
            .map_err(|detail| DataverseError::Transient { detail })?;
        if parts.len() != ops.len() {
            return Err(DataverseError::Transient {
                detail: format!(
                    "batch response had {} parts for {} operations",
                    parts.len(),
                    ops.len()
                ),
            });
        }
        Ok(parts
            .into_iter()
            .map(|part| {
                if part.status.is_success() {
                    return Ok(());
                }
                let error = classify::classify_failure(part.status, &part.headers, &part.body);
                self.close_gate_if_throttled(&error);
                Err(error)
            })
            .collect())
    }

    /// Reads one page of records; follow [`Page::next`] for the rest.
    pub async fn read_page(&self, request: &PageRequest) -> Result<Page, DataverseError> {
        let page_size = request.page_size();
        let mut headers = HeaderMap::new();
        headers.insert(
            PREFER,
            header_value(&format!("odata.maxpagesize={page_size}"))?,
        );
        let request = ApiRequest {
            method: Method::GET,
            url: request.url(&self.inner.web_api_root)?,
            headers,
            body: None,
        };
        let answer = self.send(&request).await?;
        let response = &answer.response;
        let body: PageBody =
            classify::parse_success_json(response.status, &response.headers, &response.body)?;
        Ok(body.into_page(page_size))
    }

    fn batch_request(
        &self,
        entity_set: &str,
        ops: &[Update],
    ) -> Result<ApiRequest, DataverseError> {
        let rendered = ops
            .iter()
            .map(|op| {
                Ok((
                    self.record_url(entity_set, &op.key)?,
                    json_body(&op.fields)?,
                ))
            })
            .collect::<Result<Vec<_>, DataverseError>>()?;
        let parts: Vec<PatchPart<'_>> = rendered
            .iter()
            .map(|(url, json)| PatchPart {
                url: url.as_str(),
                json,
            })
            .collect();
        let boundary = batch::new_boundary();
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            header_value(&batch::request_content_type(&boundary))?,
        );
        headers.insert(PREFER, HeaderValue::from_static("odata.continue-on-error"));
        Ok(ApiRequest {
            method: Method::POST,
            url: self.api_url("$batch")?,
            headers,
            body: Some(Bytes::from(batch::write_patch_batch(&boundary, &parts))),
        })
    }

    /// Sends `request` once it has a slot and the throttling gate is open. A 401 drops the token
    /// and retries once with a new one; a 429 closes the gate for everyone. Non-2xx answers come
    /// back classified.
    async fn send(&self, request: &ApiRequest) -> Result<Answer<'_>, DataverseError> {
        let inner = &self.inner;
        let slot = inner
            .in_flight
            .acquire()
            .await
            // The semaphore is never closed, so this cannot fail; still no panic.
            .map_err(|_| DataverseError::Transient {
                detail: "no request slot available (semaphore closed)".to_owned(),
            })?;
        let mut retried_after_401 = false;
        loop {
            inner.gate.wait_until_open().await;
            let token = inner.tokens.current().await?;
            // Fetching the token may have taken a while; another task may have been throttled.
            inner.gate.wait_until_open().await;
            let response = self.send_once(request, &token).await?;
            if response.status.is_success() {
                return Ok(Answer {
                    response,
                    _slot: slot,
                });
            }
            if response.status == StatusCode::UNAUTHORIZED && !retried_after_401 {
                debug!("Dataverse answered 401; fetching a new token and retrying once");
                inner.tokens.invalidate(&token).await;
                retried_after_401 = true;
                continue;
            }
            let error =
                classify::classify_failure(response.status, &response.headers, &response.body);
            self.close_gate_if_throttled(&error);
            return Err(match error {
                DataverseError::Unauthorized { detail } if retried_after_401 => {
                    DataverseError::Unauthorized {
                        detail: format!("{detail} (still refused after a token refresh)"),
                    }
                }
                other => other,
            });
        }
    }

    async fn send_once(
        &self,
        request: &ApiRequest,
        token: &AccessToken,
    ) -> Result<ApiResponse, DataverseError> {
        let inner = &self.inner;
        let mut builder = inner
            .http
            .request(request.method.clone(), request.url.clone())
            .header(ACCEPT, "application/json")
            .header(ODATA_MAX_VERSION, "4.0")
            .header(ODATA_VERSION, "4.0")
            .header(AUTHORIZATION, token.authorization()?)
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let outcome = async {
            let response = builder.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(ApiResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis();
        match outcome {
            Ok(response) => {
                debug!(
                    method = %request.method,
                    path = request.url.path(),
                    status = response.status.as_u16(),
                    elapsed_ms,
                    "Dataverse request"
                );
                Ok(response)
            }
            Err(err) => {
                let error = classify::transport_error(&err, inner.request_timeout);
                debug!(
                    method = %request.method,
                    path = request.url.path(),
                    elapsed_ms,
                    error = %error,
                    "Dataverse request failed without a response"
                );
                Err(error)
            }
        }
    }

    fn close_gate_if_throttled(&self, error: &DataverseError) {
        if let DataverseError::Throttled { retry_after } = error {
            debug!(?retry_after, "throttled; holding every request back");
            self.inner.gate.block_for(*retry_after);
        }
    }

    fn record_url(&self, entity_set: &str, key: &RecordKey) -> Result<Url, DataverseError> {
        if entity_set.trim().is_empty() {
            return Err(DataverseError::not_sent("entity_set must not be empty"));
        }
        self.api_url(&key.path_segment(entity_set))
    }

    fn api_url(&self, relative: &str) -> Result<Url, DataverseError> {
        self.inner.web_api_root.join(relative).map_err(|err| {
            DataverseError::not_sent(format!("cannot build a URL from {relative:?}: {err}"))
        })
    }
}

fn json_body(fields: &Map<String, Value>) -> Result<String, DataverseError> {
    serde_json::to_string(fields)
        .map_err(|err| DataverseError::not_sent(format!("cannot serialise the fields: {err}")))
}

fn header_value(text: &str) -> Result<HeaderValue, DataverseError> {
    HeaderValue::from_str(text)
        .map_err(|_| DataverseError::not_sent(format!("invalid header value {text:?}")))
}

fn html_instead_of_json(status: StatusCode) -> DataverseError {
    DataverseError::Unauthorized {
        detail: format!("{HTML_INSTEAD_OF_JSON} (HTTP {})", status.as_u16()),
    }
}
