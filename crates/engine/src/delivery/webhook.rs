//! Alerts to the operations team's incoming webhook: a JSON POST with a `text` line (which Slack- and
//! Teams-style incoming webhooks show) and the alert's fields for anything that reads them. 2xx is
//! delivered; 408, 429, 5xx and network failures retry with backoff inside the retry budget; any
//! other answer is dead at once (the URL or the receiver refuses it, and repeating will not help).

use std::time::Duration;

use serde_json::{Value, json};
use store::{AlertEvent, DeliveryClaim, DeliveryOutcome, DeliveryResult, Store, WebhookJob};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::SenderConfig;
use crate::{Engine, EngineError};

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPassReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Drains the webhook outbox to one URL.
#[derive(Debug, Clone)]
pub struct WebhookSender<S> {
    engine: Engine<S>,
    http: reqwest::Client,
    url: reqwest::Url,
    config: SenderConfig,
    owner: Uuid,
}

impl<S: Store> WebhookSender<S> {
    pub fn new(
        engine: Engine<S>,
        url: reqwest::Url,
        timeout: Duration,
        config: SenderConfig,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect from a webhook is a misconfiguration, never where to post.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookSender {
            engine,
            http,
            url,
            config,
            owner: Uuid::new_v4(),
        })
    }

    /// Post until cancelled: passes back to back while there is work, polling when idle.
    pub async fn run(self, cancel: CancellationToken) {
        self.config
            .run_passes("webhook", cancel, || async {
                Ok(self.pass().await?.claimed)
            })
            .await;
    }

    /// Claim one batch, post each in order, record the outcomes.
    pub async fn pass(&self) -> Result<WebhookPassReport, EngineError> {
        let store = self.engine.store();
        let jobs = store
            .claim_webhooks(DeliveryClaim {
                owner: self.owner,
                limit: self.config.batch_size,
                lease: self.config.lease,
            })
            .await?;
        let mut report = WebhookPassReport {
            claimed: jobs.len(),
            ..WebhookPassReport::default()
        };
        let mut results = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let outcome = self.deliver(job).await;
            match &outcome {
                DeliveryOutcome::Delivered => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Dead { error } => {
                    report.dead += 1;
                    tracing::error!(alert = %job.alert.id, %error, "alert webhook post dead");
                }
            }
            results.push(DeliveryResult {
                id: job.id,
                outcome,
            });
        }
        if !results.is_empty() {
            store.record_webhook_results(self.owner, results).await?;
            crate::metrics::webhook_posts(report.delivered, report.retried, report.dead);
        }
        Ok(report)
    }

    async fn deliver(&self, job: &WebhookJob) -> DeliveryOutcome {
        let response = self
            .http
            .post(self.url.clone())
            .json(&webhook_body(job))
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => DeliveryOutcome::Delivered,
            Ok(r) if is_transient(r.status()) => {
                self.retry_or_give_up(job, format!("the webhook answered {}", r.status()))
            }
            Ok(r) => DeliveryOutcome::Dead {
                error: format!("the webhook refused the post: {}", r.status()),
            },
            // The error names the URL's host at most; without_url keeps a token in its path out.
            Err(e) => self.retry_or_give_up(job, format!("{}", e.without_url())),
        }
    }

    fn retry_or_give_up(&self, job: &WebhookJob, error: String) -> DeliveryOutcome {
        self.config
            .after_transient_failure(job.attempts, job.first_failed_at, error)
    }
}

fn is_transient(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
}

/// The posted JSON: `text` for chat tools, then the structured fields.
pub(crate) fn webhook_body(job: &WebhookJob) -> Value {
    let alert = &job.alert;
    let what = match job.event {
        AlertEvent::Opened => "opened",
        AlertEvent::Reminder => "still open",
        AlertEvent::Resolved => "resolved",
    };
    let scope = job
        .org
        .as_ref()
        .map_or_else(|| "deployment".to_owned(), |o| o.slug.as_str().to_owned());
    let severity = match alert.severity {
        store::Severity::Warning => "WARNING",
        store::Severity::Critical => "CRITICAL",
    };
    let mut body = store::alert_payload(alert, job.org.as_ref());
    body["text"] = json!(format!(
        "[{severity}] mentor-status alert {what} ({scope}): {} — {}",
        alert.kind, alert.summary
    ));
    body["event"] = json!(job.event.as_str());
    body["delivery_id"] = json!(job.id);
    body
}
