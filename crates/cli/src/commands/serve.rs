//! `mentor-status serve`: the JSON API, the scheduler, and the listing sync's relays and credential
//! checks, until SIGINT or SIGTERM.

use std::io::Write;
use std::time::Duration;

use engine::Engine;
use engine::delivery::{AlertQueue, EmailSender, WebhookSender};
use engine::metrics::GaugeSampler;
use engine::scheduler::Scheduler;
use engine::sync::Relay;
use store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use web::auth::TokenKeys;

use super::Outcome;
use super::demo::Demo;
use crate::config::Config;
use crate::error::CliError;

/// The most API changes written in one statement.
const WRITE_BATCH_MAX: usize = 64;
/// How long the alert webhook may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the gauges that come from the database are read (scrapes of /metrics read them too).
const GAUGE_SAMPLE_INTERVAL: Duration = Duration::from_secs(15);

pub async fn run<S: Store>(
    config: &Config,
    engine: Engine<S>,
    demo: Option<Demo>,
) -> Result<Outcome, CliError> {
    let (tokens, demo) = match demo {
        Some(demo) => (demo.keys, Some(demo.listing)),
        None => (
            TokenKeys::from_secret(config.require_jwt_secret()?).map_err(CliError::usage)?,
            None,
        ),
    };
    // Before anything runs, so the first scheduled run is counted too.
    let metrics = install_metrics_recorder()?;
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&config.http.bind)
        .await
        .map_err(|e| CliError::failed(format!("cannot listen on {}: {e}", config.http.bind)))?;
    let address = listener
        .local_addr()
        .map_err(|e| CliError::failed(format!("cannot read the listening address: {e}")))?;
    // Background jobs stop on this token when the server has finished its requests.
    let background = CancellationToken::new();
    let scheduler = config.scheduler.enabled.then(|| {
        let tick = config.scheduler.tick_seconds;
        tokio::spawn(Scheduler::new(engine.clone(), tick).run(background.clone()))
    });
    let mut background_tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    if let Some(listing) = engine.listing() {
        for integration in listing.integrations() {
            background_tasks.push(tokio::spawn(engine.clone().run_credential_checks(
                integration.clone(),
                listing.config.credential_check_interval,
                background.clone(),
            )));
            if config.sync.relay_enabled {
                for _ in 0..config.sync.relays_per_org {
                    // Each relay leases under its own name, so they share the queue, not mentors.
                    let relay = Relay::new(
                        engine.clone(),
                        integration.clone(),
                        listing.config.clone(),
                        uuid::Uuid::new_v4(),
                    );
                    background_tasks.push(tokio::spawn(relay.run(background.clone())));
                }
            }
        }
    }
    background_tasks.extend(start_delivery(config, &engine, &background).await?);
    let sampler = GaugeSampler::new(engine.clone());
    background_tasks.push(tokio::spawn(sample_gauges(
        sampler.clone(),
        metrics.clone(),
        background.clone(),
    )));
    let writers = (config.database_max_connections / 2).max(1) as usize;
    let engine = engine.with_batched_writes(WRITE_BATCH_MAX, writers);
    let engine_integrations = engine.listing().map_or(0, |l| l.integrations().count());
    let app = web::with_dashboard_config(
        web::app_with_metrics(engine, tokens, metrics, sampler),
        config.dashboard.config()?,
    );
    tracing::info!(
        %address,
        scheduler = config.scheduler.enabled,
        integrations = engine_integrations,
        "listening on http://{address}"
    );
    if let Some(demo) = &demo {
        // A closed standard output (the reader went away) must not stop the server.
        let _ = writeln!(std::io::stdout(), "{}", demo.banner(&address.to_string()));
    }
    let served = web::serve(listener, app, shutdown).await;
    background.cancel();
    if let Some(scheduler) = scheduler
        && let Err(e) = scheduler.await
    {
        tracing::error!(error = %e, "the scheduler task ended abnormally");
    }
    for task in background_tasks {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "a background task ended abnormally");
        }
    }
    served.map_err(|e| CliError::failed(format!("the server stopped with an error: {e}")))?;
    tracing::info!("stopped");
    Ok(Outcome::Quiet)
}

/// The process's metrics recorder (Prometheus, rendered by `GET /metrics`), installed once.
fn install_metrics_recorder() -> Result<web::PrometheusHandle, CliError> {
    let handle = web::prometheus_builder()
        .install_recorder()
        .map_err(|e| CliError::failed(format!("cannot install the metrics recorder: {e}")))?;
    web::describe_metrics();
    Ok(handle)
}

/// Read the database gauges every [`GAUGE_SAMPLE_INTERVAL`], and keep the recorder's histograms
/// drained between scrapes, until cancelled.
async fn sample_gauges<S: Store>(
    sampler: GaugeSampler<S>,
    metrics: web::PrometheusHandle,
    cancel: CancellationToken,
) {
    loop {
        if let Err(e) = sampler.sample().await {
            tracing::warn!(error = %e, "sampling the metrics gauges failed");
        }
        metrics.run_upkeep();
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(GAUGE_SAMPLE_INTERVAL) => {}
        }
    }
}

/// Start the email sender (with `[smtp]`), the webhook sender (with `alerts.webhook_url`) and the
/// alert queue (with any operations channel).
async fn start_delivery<S: Store>(
    config: &Config,
    engine: &Engine<S>,
    cancel: &CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>, CliError> {
    let plan = config.delivery_plan()?;
    let mut tasks = Vec::new();
    match plan.mailer {
        Some(mailer) => {
            let sender = EmailSender::new(engine.clone(), mailer, plan.sender.clone());
            tasks.push(tokio::spawn(sender.run(cancel.clone())));
        }
        None => warn_about_orgs_waiting_for_email(engine).await,
    }
    if let Some(url) = &plan.webhook_url {
        let sender = WebhookSender::new(
            engine.clone(),
            url.clone(),
            WEBHOOK_TIMEOUT,
            plan.sender.clone(),
        )
        .map_err(|e| CliError::failed(format!("cannot set up the alert webhook client: {e}")))?;
        tasks.push(tokio::spawn(sender.run(cancel.clone())));
    }
    // Backlog alerts show on the dashboard and the API even without an alert channel.
    tasks.push(tokio::spawn(engine.clone().run_backlog_watch(
        plan.backlog_limit,
        plan.alert_tick,
        cancel.clone(),
    )));
    if plan.webhook_url.is_some() || plan.alert_email.is_some() {
        let queue = AlertQueue::new(
            engine.clone(),
            plan.webhook_url.is_some(),
            plan.alert_email.clone(),
            plan.remind_after,
            plan.alert_tick,
        );
        tasks.push(tokio::spawn(queue.run(cancel.clone())));
    }
    Ok(tasks)
}

/// Organisations that turned email on queue emails that nothing sends without `[smtp]`: say so.
async fn warn_about_orgs_waiting_for_email<S: Store>(engine: &Engine<S>) {
    let Ok(orgs) = engine.store().orgs().await else {
        return;
    };
    for org in orgs {
        if let Ok(settings) = engine.store().org_settings(org.id).await
            && settings.email_enabled
        {
            tracing::warn!(
                org = %org.slug,
                "the organisation has email enabled, but no [smtp] is configured: \
                 its emails wait in the outbox until smtp.url and smtp.from are set"
            );
        }
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM (what service managers and container
/// runtimes send), after which the server finishes in-flight requests and stops.
/// The handlers are installed now, so a signal that arrives while starting up is not lost.
pub(super) fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, CliError> {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| CliError::failed(format!("cannot install the SIGTERM handler: {e}")))?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = terminate.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; finishing in-flight requests"),
            _ = terminated => tracing::info!("SIGTERM received; finishing in-flight requests"),
        }
    })
}
