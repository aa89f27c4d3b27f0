//! Sync health, alerts, runs and the organisation's settings.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use domain::{Locale, MentorId};
use engine::SettingsInput;
use engine::sync::SyncStatusView;
use serde::Deserialize;
use store::{
    AlertRecord, AlertStore, ListingOutbox, MentorStore, OrgStore, RunCounts, RunId, RunRecord,
    RunStore,
};
use uuid::Uuid;

use super::session::{Checked, CsrfField};
use super::views::{Chrome, Viewer, explain, failed, html};
use super::words::Words;
use super::{Dash, decode_cursor, encode_cursor};

const ALERTS_PAGE: u32 = 50;
const RUNS_PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub(super) struct DoneQuery {
    done: Option<String>,
    cursor: Option<String>,
    open: Option<String>,
}

fn done_message(t: &Words, done: Option<&str>) -> Option<String> {
    let text = match done? {
        "retried" => t.done_retried,
        "nothing_to_retry" => t.done_nothing_to_retry,
        "sync_all_queued" => t.done_sync_all_queued,
        "acknowledged" => t.done_acknowledged,
        "saved" => t.done_settings_saved,
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Deserialize)]
pub(super) struct PlainForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for PlainForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

// ---------------------------------------------------------------------------------------------
// Sync health
// ---------------------------------------------------------------------------------------------

pub(crate) struct Fact {
    pub label: &'static str,
    pub value: String,
}

pub(crate) struct DeadLetterRow {
    pub mentor_id: String,
    pub name: String,
    pub rows: u64,
    pub last_error: String,
    pub since: String,
}

pub(crate) struct CredentialView {
    pub ok: bool,
    pub label: &'static str,
    pub checked_at: String,
    pub detail: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/sync.html")]
pub(crate) struct SyncPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub csrf: String,
    pub enabled: bool,
    pub queue: Vec<Fact>,
    pub lag_window: String,
    /// Empty when nothing was confirmed in the window.
    pub lag: Vec<Fact>,
    pub credential: Option<CredentialView>,
    /// Empty when no reconciliation ran.
    pub drift: Vec<Fact>,
    pub dead_letters: Vec<DeadLetterRow>,
    pub is_admin: bool,
}

pub(super) async fn sync<S: ListingOutbox + RunStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let status = match dash.app.engine.sync_status(&viewer.user).await {
        Ok(status) => status,
        Err(e) => return failed(&viewer, &e),
    };
    let page = sync_page(
        &viewer,
        status.into(),
        done_message(viewer.t, query.done.as_deref()),
    );
    html(StatusCode::OK, &page)
}

/// The sync status as the page needs it (the engine's view, flattened).
pub(crate) struct SyncFigures {
    pub enabled: bool,
    pub pending: u64,
    pub retrying: u64,
    pub dead: u64,
    pub oldest_pending_age_seconds: Option<i64>,
    pub lag_window_hours: i64,
    pub lag_confirmed: u64,
    pub lag_ms: [Option<f64>; 3],
    /// When, whether it worked, and what was said.
    pub credential: Option<(DateTime<Utc>, bool, Option<String>)>,
    /// Finished at, checked, drift, missing records.
    pub drift: Option<(Option<DateTime<Utc>>, u64, u64, u64)>,
    pub dead_letters: Vec<DeadLetterFigure>,
}

pub(crate) struct DeadLetterFigure {
    pub mentor: MentorId,
    pub name: String,
    pub rows: u64,
    pub last_error: Option<String>,
    pub since: DateTime<Utc>,
}

impl From<SyncStatusView> for SyncFigures {
    fn from(s: SyncStatusView) -> Self {
        SyncFigures {
            enabled: s.enabled,
            pending: s.pending,
            retrying: s.retrying,
            dead: s.dead,
            oldest_pending_age_seconds: s.oldest_pending_age_seconds,
            lag_window_hours: s.lag.window_hours,
            lag_confirmed: s.lag.confirmed,
            lag_ms: [s.lag.p50_ms, s.lag.p95_ms, s.lag.p99_ms],
            credential: s
                .last_credential_check
                .map(|c| (c.checked_at, c.ok, c.detail)),
            drift: s
                .drift
                .map(|d| (d.finished_at, d.checked, d.drift, d.missing_records)),
            dead_letters: s
                .dead_letters
                .into_iter()
                .map(|d| DeadLetterFigure {
                    mentor: d.mentor_id,
                    name: d.full_name,
                    rows: d.rows,
                    last_error: d.last_error,
                    since: d.since,
                })
                .collect(),
        }
    }
}

pub(crate) fn sync_page(viewer: &Viewer, s: SyncFigures, notice: Option<String>) -> SyncPage {
    let t = viewer.t;
    let zone = viewer.org.timezone;
    let fact = |label, value| Fact { label, value };
    let queue = vec![
        fact(t.pending, s.pending.to_string()),
        fact(t.retrying, s.retrying.to_string()),
        fact(t.dead, s.dead.to_string()),
        fact(
            t.oldest_pending,
            s.oldest_pending_age_seconds
                .map_or_else(|| t.nothing_pending.to_owned(), |age| t.age(age)),
        ),
    ];
    let lag = if s.lag_confirmed == 0 {
        Vec::new()
    } else {
        let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| t.millis(v));
        vec![
            fact(t.lag_confirmed, s.lag_confirmed.to_string()),
            fact(t.lag_p50, ms(s.lag_ms[0])),
            fact(t.lag_p95, ms(s.lag_ms[1])),
            fact(t.lag_p99, ms(s.lag_ms[2])),
        ]
    };
    let drift = s
        .drift
        .map(|(finished_at, checked, drift, missing)| {
            vec![
                fact(
                    t.reconciled_at,
                    finished_at.map_or_else(|| "–".to_owned(), |at| t.datetime(at, zone)),
                ),
                fact(t.records_checked, checked.to_string()),
                fact(t.drift_found, drift.to_string()),
                fact(t.missing_records, missing.to_string()),
            ]
        })
        .unwrap_or_default();
    SyncPage {
        chrome: viewer.chrome(t.sync_title, "/sync").with_notice(notice),
        t,
        csrf: viewer.csrf.clone(),
        enabled: s.enabled,
        queue,
        lag_window: t.lag_window(s.lag_window_hours),
        lag,
        credential: s.credential.map(|(checked_at, ok, detail)| CredentialView {
            ok,
            label: if ok {
                t.credential_ok
            } else {
                t.credential_failed
            },
            checked_at: t.datetime(checked_at, zone),
            detail,
        }),
        drift,
        dead_letters: s
            .dead_letters
            .into_iter()
            .map(|d| DeadLetterRow {
                mentor_id: d.mentor.to_string(),
                name: d.name,
                rows: d.rows,
                last_error: d.last_error.unwrap_or_default(),
                since: t.datetime(d.since, zone),
            })
            .collect(),
        is_admin: viewer.is_admin(),
    }
}

#[derive(Deserialize)]
pub(super) struct RetryForm {
    #[serde(default)]
    csrf: String,
    /// One mentor's dead rows; all of the organisation's when empty.
    #[serde(default)]
    mentor_id: String,
}

impl CsrfField for RetryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn retry<S: MentorStore + OrgStore + ListingOutbox>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Checked(form): Checked<RetryForm>,
) -> Response {
    let mentor = match form.mentor_id.trim() {
        "" => None,
        raw => match raw.parse::<MentorId>() {
            Ok(id) => Some(id),
            Err(_) => return viewer.error(StatusCode::NOT_FOUND, viewer.t.error_not_found),
        },
    };
    match dash.app.engine.retry_dead_sync(&viewer.user, mentor).await {
        Ok(0) => Redirect::to("/sync?done=nothing_to_retry").into_response(),
        Ok(_) => Redirect::to("/sync?done=retried").into_response(),
        Err(e) => failed(&viewer, &e),
    }
}

pub(super) async fn push_all<S: MentorStore + OrgStore + ListingOutbox>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Checked(_): Checked<PlainForm>,
) -> Response {
    match dash.app.engine.force_sync_org(&viewer.user).await {
        Ok(_) => Redirect::to("/sync?done=sync_all_queued").into_response(),
        Err(e) => failed(&viewer, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

pub(crate) struct AlertRow {
    pub id: String,
    pub severity_code: &'static str,
    pub severity: &'static str,
    pub kind: String,
    pub summary: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: i64,
    pub state_code: &'static str,
    pub state: String,
    pub can_acknowledge: bool,
}

#[derive(Template)]
#[template(path = "dashboard/alerts.html")]
pub(crate) struct AlertsPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub csrf: String,
    pub open_only: bool,
    pub rows: Vec<AlertRow>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

pub(super) async fn alerts<S: AlertStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let open_only = query.open.as_deref() == Some("1");
    let cursor = decode_cursor::<Uuid>(query.cursor.as_deref());
    let on_later_page = cursor.is_some();
    let page = match dash
        .app
        .engine
        .alerts(&viewer.user, open_only, ALERTS_PAGE, cursor)
        .await
    {
        Ok(page) => page,
        Err(e) => return failed(&viewer, &e),
    };
    let t = viewer.t;
    let open = if open_only { "open=1&" } else { "" };
    let view = AlertsPage {
        chrome: viewer
            .chrome(t.alerts_title, "/alerts")
            .with_notice(done_message(t, query.done.as_deref())),
        t,
        csrf: viewer.csrf.clone(),
        open_only,
        rows: page
            .items
            .iter()
            .map(|a| alert_row(t, a, viewer.org.timezone))
            .collect(),
        next_href: page
            .next
            .map(|next| format!("/alerts?{open}cursor={}", encode_cursor(&next))),
        first_href: on_later_page.then(|| format!("/alerts?{}", open.trim_end_matches('&'))),
    };
    html(StatusCode::OK, &view)
}

pub(crate) fn alert_row(t: &Words, a: &AlertRecord, zone: domain::OrgTimeZone) -> AlertRow {
    let (state_code, state) = match (a.resolved_at, a.acknowledged_at) {
        (Some(at), _) => (
            "resolved",
            format!("{} {}", t.alert_resolved, t.datetime(at, zone)),
        ),
        (None, Some(at)) => (
            "acknowledged",
            format!("{} {}", t.alert_acknowledged, t.datetime(at, zone)),
        ),
        (None, None) => ("open", t.alert_open.to_owned()),
    };
    AlertRow {
        id: a.id.to_string(),
        severity_code: a.severity.as_str(),
        severity: t.severity(a.severity),
        kind: a.kind.clone(),
        summary: a.summary.clone(),
        first_seen: t.datetime(a.first_seen, zone),
        last_seen: t.datetime(a.last_seen, zone),
        count: a.count,
        state_code,
        state,
        can_acknowledge: a.acknowledged_at.is_none() && a.resolved_at.is_none(),
    }
}

#[derive(Deserialize)]
pub(super) struct AckForm {
    #[serde(default)]
    csrf: String,
    /// Whether the list the form was on showed open alerts only.
    #[serde(default)]
    open: String,
}

impl CsrfField for AckForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn acknowledge<S: AlertStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(form): Checked<AckForm>,
) -> Response {
    let Ok(id) = raw.parse::<Uuid>() else {
        return viewer.error(StatusCode::NOT_FOUND, viewer.t.error_not_found);
    };
    match dash.app.engine.acknowledge_alert(&viewer.user, id).await {
        Ok(_) => {
            let open = if form.open == "1" { "&open=1" } else { "" };
            Redirect::to(&format!("/alerts?done=acknowledged{open}")).into_response()
        }
        Err(e) => failed(&viewer, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

pub(crate) struct RunRow {
    pub job: String,
    pub business_date: String,
    pub trigger: &'static str,
    pub started: String,
    pub finished: String,
    pub outcome_code: &'static str,
    pub outcome: &'static str,
    pub counts: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "dashboard/runs.html")]
pub(crate) struct RunsPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub rows: Vec<RunRow>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

pub(super) async fn runs<S: RunStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<DoneQuery>,
) -> Response {
    let cursor = decode_cursor::<RunId>(query.cursor.as_deref());
    let on_later_page = cursor.is_some();
    let page = match dash.app.engine.runs(&viewer.user, RUNS_PAGE, cursor).await {
        Ok(page) => page,
        Err(e) => return failed(&viewer, &e),
    };
    let t = viewer.t;
    let view = RunsPage {
        chrome: viewer.chrome(t.runs_title, "/runs"),
        t,
        rows: page
            .items
            .iter()
            .map(|r| run_row(t, r, viewer.org.timezone))
            .collect(),
        next_href: page
            .next
            .map(|next| format!("/runs?cursor={}", encode_cursor(&next))),
        first_href: on_later_page.then(|| "/runs".to_owned()),
    };
    html(StatusCode::OK, &view)
}

pub(crate) fn run_row(t: &Words, r: &RunRecord, zone: domain::OrgTimeZone) -> RunRow {
    RunRow {
        job: t.job(&r.job),
        business_date: t.date(r.business_date),
        trigger: t.trigger(r.trigger),
        started: t.datetime(r.started_at, zone),
        finished: r
            .finished_at
            .map_or_else(String::new, |at| t.datetime(at, zone)),
        outcome_code: r.outcome.as_str(),
        outcome: t.run_outcome(r.outcome),
        counts: counts(t, &r.counts),
        error: r.error.clone().unwrap_or_default(),
    }
}

/// The counts that are not zero, in words.
fn counts(t: &Words, c: &RunCounts) -> String {
    let all = [
        (c.expired, t.count_expired),
        (c.resumed, t.count_resumed),
        (c.resumed_into_expired, t.count_resumed_into_expired),
        (c.reminders_sent, t.count_reminders_sent),
        (c.reminders_skipped, t.count_reminders_skipped),
        (c.resume_notices, t.count_resume_notices),
        (c.lost_races, t.count_lost_races),
        (c.digests, t.count_digests),
        (c.findings, t.count_findings),
        (c.queued, t.count_queued),
        (c.checked, t.count_checked),
        (c.drift, t.count_drift),
        (c.missing_records, t.count_missing_records),
    ];
    let parts: Vec<String> = all
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, label)| format!("{n} {label}"))
        .collect();
    if parts.is_empty() {
        t.no_counts.to_owned()
    } else {
        parts.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

pub(crate) struct LocaleOption {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
pub(crate) struct SettingsPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub csrf: String,
    pub thresholds: String,
    pub effective: String,
    pub flag_on: bool,
    pub email_enabled: bool,
    pub locales: Vec<LocaleOption>,
}

pub(super) async fn settings<S: OrgStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<DoneQuery>,
) -> Response {
    match dash.app.engine.settings(&viewer.user).await {
        Ok(view) => {
            let notice = done_message(viewer.t, query.done.as_deref());
            let thresholds = view
                .thresholds_days
                .as_ref()
                .map(|t| join(t))
                .unwrap_or_default();
            html(
                StatusCode::OK,
                &settings_page(&viewer, &view, thresholds, notice, None),
            )
        }
        Err(e) => failed(&viewer, &e),
    }
}

fn join(values: &[u16]) -> String {
    values
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn settings_page(
    viewer: &Viewer,
    view: &engine::SettingsView,
    thresholds: String,
    notice: Option<String>,
    error: Option<String>,
) -> SettingsPage {
    let t = viewer.t;
    SettingsPage {
        chrome: viewer
            .chrome(t.settings_title, "/settings")
            .with_notice(notice)
            .with_error(error),
        t,
        csrf: viewer.csrf.clone(),
        thresholds,
        effective: join(&view.effective_thresholds_days),
        flag_on: view.features.per_org_thresholds,
        email_enabled: view.email_enabled,
        locales: Locale::ALL
            .iter()
            .map(|l| LocaleOption {
                code: l.as_str(),
                label: match l {
                    Locale::Nb => t.locale_nb,
                    Locale::En => t.locale_en,
                },
                selected: *l == view.locale,
            })
            .collect(),
    }
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    thresholds: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    email_enabled: Option<String>,
    #[serde(default)]
    locale: String,
}

impl CsrfField for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn save_settings<S: OrgStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Checked(form): Checked<SettingsForm>,
) -> Response {
    let engine = &dash.app.engine;
    // Admins only, before anything about the input is told.
    let current = match engine.settings(&viewer.user).await {
        Ok(current) => current,
        Err(e) => return failed(&viewer, &e),
    };
    let t = viewer.t;
    let refuse = |message: String| {
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &settings_page(
                &viewer,
                &current,
                form.thresholds.clone(),
                None,
                Some(message),
            ),
        )
    };
    let raw = form.thresholds.trim();
    let thresholds_days = if raw.is_empty() {
        None
    } else {
        let parsed: Result<Vec<i64>, _> = raw
            .split([',', ' ', ';'])
            .filter(|part| !part.trim().is_empty())
            .map(|part| part.trim().parse::<i64>())
            .collect();
        match parsed {
            Ok(values) => Some(values),
            Err(_) => return refuse(t.error_thresholds_invalid.to_owned()),
        }
    };
    let input = SettingsInput {
        thresholds_days,
        email_enabled: Some(form.email_enabled.is_some()),
        locale: Some(form.locale.clone()),
    };
    match engine.update_settings(&viewer.user, input).await {
        Ok(_) => {
            dash.orgs.forget(viewer.user.org_id);
            Redirect::to("/settings?done=saved").into_response()
        }
        Err(e) => {
            let (status, message) = explain(t, &e);
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                refuse(message)
            } else {
                viewer.error(status, message)
            }
        }
    }
}
