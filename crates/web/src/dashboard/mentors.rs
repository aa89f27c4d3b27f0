//! The mentors list and one mentor: details, certification, sync state, history, reminders, and
//! the forms that change them.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use domain::access::Permission;
use domain::{Action, ActionKind, MentorId, MentorStatus, Reason, days_left};
use engine::{CertificationInput, EngineError, MentorSnapshot};
use serde::Deserialize;
use store::{
    Actor, HistoryRecord, MentorCursor, MentorFilter, MentorRecord, MentorStore, OrgStore,
    ReminderRecord, Store,
};

use super::session::{Checked, CsrfField, url_encode};
use super::views::{Chrome, Viewer, explain, failed, html};
use super::words::Words;
use super::{Dash, decode_cursor, encode_cursor};

/// Mentors per page of the list.
pub(crate) const PAGE_SIZE: u32 = 50;
/// History rows per page of a mentor.
const HISTORY_PAGE: u32 = 20;
/// The widest expiry window the filter takes (the API's).
const MAX_EXPIRING_WITHIN_DAYS: u32 = 3650;
const MAX_QUERY_CHARS: usize = 200;
/// A certification this close to its end is marked.
const SOON_DAYS: i64 = 30;

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    status: Option<String>,
    expiring: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
}

pub(crate) struct StatusOption {
    pub code: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub(crate) struct MentorRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub status_code: &'static str,
    pub status_label: &'static str,
    pub certification: String,
    /// `ok`, `soon`, `lapsed` or `none`.
    pub certification_class: &'static str,
    pub sync_code: &'static str,
    pub sync_label: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/mentors.html")]
pub(crate) struct MentorsPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub statuses: Vec<StatusOption>,
    pub expiring: String,
    pub q: String,
    pub rows: Vec<MentorRow>,
    /// Set when the filter could not be used.
    pub invalid: bool,
    pub showing: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

pub(super) async fn list<S: MentorStore + OrgStore>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<ListQuery>,
) -> Response {
    if !viewer.manages() {
        return match viewer.own_mentor() {
            Some(own) => Redirect::to(&format!("/mentors/{own}")).into_response(),
            None => viewer.error(StatusCode::FORBIDDEN, viewer.t.error_not_linked),
        };
    }
    let t = viewer.t;
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<MentorStatus>().ok());
    let expiring_raw = query.expiring.as_deref().unwrap_or("").trim().to_owned();
    let q = query.q.as_deref().unwrap_or("").trim().to_owned();
    let mut error = None;
    let expiring_within_days = if expiring_raw.is_empty() {
        None
    } else {
        match expiring_raw.parse::<u32>() {
            Ok(days) if days <= MAX_EXPIRING_WITHIN_DAYS => Some(days),
            _ => {
                error = Some(t.error_expiring_invalid.to_owned());
                None
            }
        }
    };
    if q.chars().count() > MAX_QUERY_CHARS {
        error = Some(t.error_search_too_long.to_owned());
    }
    let statuses = MentorStatus::ALL
        .iter()
        .map(|s| StatusOption {
            code: s.as_str(),
            label: t.status(*s),
            selected: status == Some(*s),
        })
        .collect();
    let mut page = MentorsPage {
        chrome: viewer.chrome(t.mentors_title, "/mentors"),
        t,
        statuses,
        expiring: expiring_raw.clone(),
        q: q.clone(),
        rows: Vec::new(),
        invalid: error.is_some(),
        showing: String::new(),
        next_href: None,
        first_href: None,
    };
    if let Some(error) = error {
        page.chrome = page.chrome.with_error(Some(error));
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let filter = MentorFilter {
        status,
        expiring_within_days,
        query: (!q.is_empty()).then(|| q.clone()),
    };
    let cursor = decode_cursor::<MentorCursor>(query.cursor.as_deref());
    let on_later_page = cursor.is_some();
    let (found, today) = match dash
        .app
        .engine
        .list_mentors(&viewer.user, filter, PAGE_SIZE, cursor)
        .await
    {
        Ok(found) => found,
        Err(e) => return failed(&viewer, &e),
    };
    let sync_enabled = dash.app.engine.sync_enabled(viewer.user.org_id);
    page.rows = found
        .items
        .into_iter()
        .map(|m| {
            let sync = engine::sync::sync_state(&m, sync_enabled);
            mentor_row(t, &m, today, sync)
        })
        .collect();
    page.showing = t.showing(page.rows.len());
    let filter_query = filter_query(status, &expiring_raw, &q);
    page.next_href = found.next.as_ref().map(|next| {
        format!(
            "/mentors?{filter_query}{}cursor={}",
            if filter_query.is_empty() { "" } else { "&" },
            encode_cursor(next)
        )
    });
    page.first_href = on_later_page.then(|| format!("/mentors?{filter_query}"));
    html(StatusCode::OK, &page)
}

/// The filter as a query string, for the pages' links.
fn filter_query(status: Option<MentorStatus>, expiring: &str, q: &str) -> String {
    let mut parts = Vec::new();
    if let Some(status) = status {
        parts.push(format!("status={}", status.as_str()));
    }
    if !expiring.is_empty() {
        parts.push(format!("expiring={}", url_encode(expiring)));
    }
    if !q.is_empty() {
        parts.push(format!("q={}", url_encode(q)));
    }
    parts.join("&")
}

fn mentor_row(t: &Words, m: &MentorRecord, today: NaiveDate, sync: &'static str) -> MentorRow {
    let (certification, certification_class) = match &m.certification {
        Some(c) => {
            let left = days_left(c.expires_on, today);
            (
                format!("{} ({})", t.date(c.expires_on), t.days_left(left)),
                certification_class(left),
            )
        }
        None => (t.no_certification.to_owned(), "none"),
    };
    MentorRow {
        href: format!("/mentors/{}", m.id),
        name: m.full_name.clone(),
        email: m.email.to_string(),
        status_code: m.status.as_str(),
        status_label: t.status(m.status),
        certification,
        certification_class,
        sync_code: sync,
        sync_label: t.sync_state(sync),
    }
}

fn certification_class(days_left: i64) -> &'static str {
    if days_left < 0 {
        "lapsed"
    } else if days_left <= SOON_DAYS {
        "soon"
    } else {
        "ok"
    }
}

// ---------------------------------------------------------------------------------------------
// One mentor
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(super) struct ShowQuery {
    done: Option<String>,
    history_before: Option<String>,
}

pub(crate) struct CertificationView {
    pub issued_on: String,
    pub expires_on: String,
    pub left: String,
    pub class: &'static str,
}

pub(crate) struct MentorView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub listed_publicly: &'static str,
    pub link: String,
    pub status_code: &'static str,
    pub status_label: &'static str,
    pub reason: Option<String>,
    pub since: String,
    pub resume_on: Option<String>,
    pub certification: Option<CertificationView>,
    pub sync_code: &'static str,
    pub sync_label: &'static str,
    pub sync_enabled: bool,
    pub pushed_version: String,
    pub pushed_at: String,
    pub last_error: Option<String>,
}

pub(crate) struct HistoryRow {
    pub when: String,
    pub change: String,
    pub reason: String,
    pub by: String,
}

pub(crate) struct ReminderRow {
    pub threshold: u16,
    pub expires_on: String,
    pub outcome: &'static str,
    pub business_date: String,
}

/// Which forms the page offers: those the viewer's role and the mentor's status allow.
#[derive(Default)]
pub(crate) struct Actions {
    pub pause: bool,
    pub resume: bool,
    pub deactivate: bool,
    pub reactivate: bool,
    pub renew: bool,
    pub force_sync: bool,
}

impl Actions {
    pub fn any_status_change(&self) -> bool {
        self.pause || self.resume || self.deactivate || self.reactivate
    }
}

/// What the viewer typed, shown again when an action was refused.
#[derive(Default)]
pub(crate) struct Entered {
    pub reason: String,
    pub resume_on: String,
    pub deactivate_reason: String,
    pub issued_on: String,
    pub expires_on: String,
}

#[derive(Template)]
#[template(path = "dashboard/mentor.html")]
pub(crate) struct MentorPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub csrf: String,
    pub m: MentorView,
    pub actions: Actions,
    pub entered: Entered,
    /// The first day a return date may be (tomorrow), for the date field.
    pub min_resume_on: String,
    pub history: Vec<HistoryRow>,
    pub older_href: Option<String>,
    pub newest_href: Option<String>,
    pub reminders: Vec<ReminderRow>,
    pub manages: bool,
}

/// The mentor `id` if the viewer may see it. Another organisation's mentor, or another mentor for a
/// mentor's own login, is not found: its existence is not told.
fn mentor_id(viewer: &Viewer, raw: &str) -> Option<MentorId> {
    let id: MentorId = raw.parse().ok()?;
    viewer
        .may(Permission::SeeMentor, viewer.mentor(id))
        .then_some(id)
}

fn not_found(viewer: &Viewer) -> Response {
    viewer.error(StatusCode::NOT_FOUND, viewer.t.error_not_found)
}

pub(super) async fn show<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let Some(id) = mentor_id(&viewer, &raw) else {
        return not_found(&viewer);
    };
    let notice = query
        .done
        .as_deref()
        .and_then(|done| done_message(viewer.t, done));
    let before = query
        .history_before
        .as_deref()
        .and_then(|b| b.parse::<i64>().ok());
    render_mentor(&dash, &viewer, id, before, notice, None, Entered::default()).await
}

/// What an action's redirect says it did.
fn done_message(t: &Words, done: &str) -> Option<String> {
    let text = match done {
        "paused" => t.done_paused,
        "resumed" => t.done_resumed,
        "deactivated" => t.done_deactivated,
        "reactivated" => t.done_reactivated,
        "renewed" => t.done_renewed,
        "sync_queued" => t.done_sync_queued,
        "sync_already_queued" => t.done_sync_already_queued,
        _ => return None,
    };
    Some(text.to_owned())
}

/// The mentor page; with `error`, answered with its status and the form values kept.
async fn render_mentor<S: Store>(
    dash: &Dash<S>,
    viewer: &Viewer,
    id: MentorId,
    history_before: Option<i64>,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
    entered: Entered,
) -> Response {
    let engine = &dash.app.engine;
    let snapshot = match engine.mentor(&viewer.user, id).await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed(viewer, &e),
    };
    let history = match engine
        .history(&viewer.user, id, HISTORY_PAGE, history_before)
        .await
    {
        Ok(history) => history,
        Err(e) => return failed(viewer, &e),
    };
    let reminders = match engine.reminders(&viewer.user, id).await {
        Ok(reminders) => reminders,
        Err(e) => return failed(viewer, &e),
    };
    let t = viewer.t;
    let zone = viewer.org.timezone;
    let sync_enabled = engine.sync_enabled(viewer.user.org_id);
    let actions = actions(viewer, &snapshot, sync_enabled);
    let min_resume_on = snapshot
        .today
        .succ_opt()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let m = mentor_view(t, &snapshot, sync_enabled, zone);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = MentorPage {
        chrome: viewer
            .chrome(m.name.clone(), "/mentors")
            .with_notice(notice)
            .with_error(error),
        t,
        csrf: viewer.csrf.clone(),
        actions,
        entered,
        min_resume_on,
        history: history
            .items
            .iter()
            .map(|h| history_row(t, h, zone))
            .collect(),
        older_href: history
            .next
            .map(|before| format!("/mentors/{id}?history_before={before}#history")),
        newest_href: history_before.map(|_| format!("/mentors/{id}#history")),
        reminders: reminders.iter().map(|r| reminder_row(t, r)).collect(),
        manages: viewer.manages(),
        m,
    };
    html(status, &page)
}

/// The forms the mentor's page shows: those the access rules allow this viewer and the mentor's
/// status makes sense of (the transition table refuses the rest anyway).
fn actions(viewer: &Viewer, snapshot: &MentorSnapshot, sync_enabled: bool) -> Actions {
    let status = snapshot.mentor.status;
    let may = |kind| viewer.may(Permission::Request(kind), viewer.mentor(snapshot.mentor.id));
    Actions {
        pause: status == MentorStatus::Active && may(ActionKind::Pause),
        resume: status == MentorStatus::Paused && may(ActionKind::Resume),
        deactivate: status != MentorStatus::Inactive && may(ActionKind::Deactivate),
        reactivate: status == MentorStatus::Inactive && may(ActionKind::Reactivate),
        renew: may(ActionKind::RenewCertification),
        force_sync: sync_enabled && viewer.manages(),
    }
}

fn mentor_view(
    t: &Words,
    snapshot: &MentorSnapshot,
    sync_enabled: bool,
    zone: domain::OrgTimeZone,
) -> MentorView {
    let m = &snapshot.mentor;
    let link = match (&m.dynamics_contact_id, &m.dynamics_key) {
        (Some(contact), _) => format!("{}: {contact}", t.contact_id),
        (None, Some(key)) => format!("{}: {key}", t.dynamics_key),
        (None, None) => t.not_linked.to_owned(),
    };
    MentorView {
        id: m.id.to_string(),
        name: m.full_name.clone(),
        email: m.email.to_string(),
        phone: m.phone.clone(),
        listed_publicly: if m.listed_publicly { t.yes } else { t.no },
        link,
        status_code: m.status.as_str(),
        status_label: t.status(m.status),
        reason: m.status_reason.clone(),
        since: t.datetime(m.status_changed_at, zone),
        resume_on: m.resume_on.map(|d| t.date(d)),
        certification: m.certification.as_ref().map(|c| {
            let left = days_left(c.expires_on, snapshot.today);
            CertificationView {
                issued_on: t.date(c.issued_on),
                expires_on: t.date(c.expires_on),
                left: t.days_left(left),
                class: certification_class(left),
            }
        }),
        sync_code: snapshot.sync_state,
        sync_label: t.sync_state(snapshot.sync_state),
        sync_enabled,
        pushed_version: m
            .sync
            .pushed_version
            .map_or_else(|| t.never_pushed.to_owned(), |v| v.to_string()),
        pushed_at: m
            .sync
            .pushed_at
            .map_or_else(|| t.never_pushed.to_owned(), |at| t.datetime(at, zone)),
        last_error: m.sync.last_error.clone(),
    }
}

fn history_row(t: &Words, h: &HistoryRecord, zone: domain::OrgTimeZone) -> HistoryRow {
    let change = match h.from_status {
        Some(from) => format!("{} → {}", t.status(from), t.status(h.to_status)),
        None => format!("{}: {}", t.registered, t.status(h.to_status)),
    };
    let by = match h.actor {
        Actor::User(_) => h.actor_email.clone().unwrap_or_default(),
        Actor::System => t.system_actor.to_owned(),
    };
    HistoryRow {
        when: t.datetime(h.occurred_at, zone),
        change,
        reason: h
            .reason
            .as_deref()
            .map(|r| t.history_reason(r))
            .unwrap_or_default(),
        by,
    }
}

fn reminder_row(t: &Words, r: &ReminderRecord) -> ReminderRow {
    ReminderRow {
        threshold: r.threshold_days,
        expires_on: t.date(r.certification_expires_on),
        outcome: t.reminder_outcome(r.outcome),
        business_date: t.date(r.business_date),
    }
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct PauseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    resume_on: String,
}

#[derive(Deserialize)]
pub(super) struct DeactivateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(super) struct RenewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    issued_on: String,
    #[serde(default)]
    expires_on: String,
}

#[derive(Deserialize)]
pub(super) struct PlainForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for PauseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
impl CsrfField for DeactivateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
impl CsrfField for RenewForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
impl CsrfField for PlainForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// After an action: back to the mentor with what it did, or the mentor page with why not.
async fn after<S: Store, T>(
    dash: &Dash<S>,
    viewer: &Viewer,
    id: MentorId,
    result: Result<T, EngineError>,
    done: &str,
    entered: Entered,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/mentors/{id}?done={done}")).into_response(),
        Err(EngineError::NotFound { .. }) => {
            viewer.error(StatusCode::NOT_FOUND, viewer.t.error_not_found)
        }
        Err(e) => {
            let (status, message) = explain(viewer.t, &e);
            render_mentor(
                dash,
                viewer,
                id,
                None,
                None,
                Some((status, message)),
                entered,
            )
            .await
        }
    }
}

/// A refusal before the engine was asked (the form itself is wrong).
async fn refuse<S: Store>(
    dash: &Dash<S>,
    viewer: &Viewer,
    id: MentorId,
    message: &str,
    entered: Entered,
) -> Response {
    render_mentor(
        dash,
        viewer,
        id,
        None,
        None,
        Some((StatusCode::UNPROCESSABLE_ENTITY, message.to_owned())),
        entered,
    )
    .await
}

fn reason(t: &Words, raw: &str) -> Result<Reason, &'static str> {
    if raw.trim().is_empty() {
        return Err(t.error_reason_required);
    }
    Reason::parse(raw).map_err(|_| {
        if raw.trim().chars().count() > Reason::MAX_CHARS {
            t.error_reason_too_long
        } else {
            t.error_reason_required
        }
    })
}

fn date(t: &Words, raw: &str) -> Result<Option<NaiveDate>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<NaiveDate>()
        .map(Some)
        .map_err(|_| t.error_invalid_date)
}

/// Ask the engine for `action` on mentor `id`, then go on as [`after`] says.
async fn act<S: Store>(
    dash: &Dash<S>,
    viewer: &Viewer,
    id: MentorId,
    action: Action,
    done: &str,
    entered: Entered,
) -> Response {
    let result = dash.app.engine.request(&viewer.user, id, action).await;
    after(dash, viewer, id, result, done, entered).await
}

/// An action with nothing to fill in: the path names the mentor, the form only carries CSRF.
async fn plain<S: Store>(
    dash: &Dash<S>,
    viewer: &Viewer,
    raw: &str,
    action: Action,
    done: &str,
) -> Response {
    let Some(id) = mentor_id(viewer, raw) else {
        return not_found(viewer);
    };
    act(dash, viewer, id, action, done, Entered::default()).await
}

pub(super) async fn pause<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(form): Checked<PauseForm>,
) -> Response {
    let Some(id) = mentor_id(&viewer, &raw) else {
        return not_found(&viewer);
    };
    let t = viewer.t;
    let entered = Entered {
        reason: form.reason.clone(),
        resume_on: form.resume_on.clone(),
        ..Entered::default()
    };
    let parsed = reason(t, &form.reason).and_then(|r| Ok((r, date(t, &form.resume_on)?)));
    let (reason, resume_on) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return refuse(&dash, &viewer, id, message, entered).await,
    };
    let action = Action::Pause { reason, resume_on };
    act(&dash, &viewer, id, action, "paused", entered).await
}

pub(super) async fn resume<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(_): Checked<PlainForm>,
) -> Response {
    plain(&dash, &viewer, &raw, Action::Resume, "resumed").await
}

pub(super) async fn deactivate<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(form): Checked<DeactivateForm>,
) -> Response {
    let Some(id) = mentor_id(&viewer, &raw) else {
        return not_found(&viewer);
    };
    let entered = Entered {
        deactivate_reason: form.reason.clone(),
        ..Entered::default()
    };
    let reason = match reason(viewer.t, &form.reason) {
        Ok(reason) => reason,
        Err(message) => return refuse(&dash, &viewer, id, message, entered).await,
    };
    let action = Action::Deactivate { reason };
    act(&dash, &viewer, id, action, "deactivated", entered).await
}

pub(super) async fn reactivate<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(_): Checked<PlainForm>,
) -> Response {
    plain(&dash, &viewer, &raw, Action::Reactivate, "reactivated").await
}

pub(super) async fn renew<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(form): Checked<RenewForm>,
) -> Response {
    let Some(id) = mentor_id(&viewer, &raw) else {
        return not_found(&viewer);
    };
    let t = viewer.t;
    let entered = Entered {
        issued_on: form.issued_on.clone(),
        expires_on: form.expires_on.clone(),
        ..Entered::default()
    };
    let dates = date(t, &form.issued_on).and_then(|i| Ok((i, date(t, &form.expires_on)?)));
    let input = match dates {
        Ok((Some(issued_on), Some(expires_on))) => CertificationInput {
            issued_on,
            expires_on,
        },
        Ok(_) => return refuse(&dash, &viewer, id, t.error_dates_required, entered).await,
        Err(message) => return refuse(&dash, &viewer, id, message, entered).await,
    };
    let result = dash
        .app
        .engine
        .register_certification(&viewer.user, id, input)
        .await;
    after(&dash, &viewer, id, result, "renewed", entered).await
}

pub(super) async fn force_sync<S: Store>(
    State(dash): State<Dash<S>>,
    Extension(viewer): Extension<Viewer>,
    Path(raw): Path<String>,
    Checked(_): Checked<PlainForm>,
) -> Response {
    let Some(id) = mentor_id(&viewer, &raw) else {
        return not_found(&viewer);
    };
    match dash.app.engine.force_sync(&viewer.user, id).await {
        Ok(0) => Redirect::to(&format!("/mentors/{id}?done=sync_already_queued")).into_response(),
        result => {
            after(
                &dash,
                &viewer,
                id,
                result,
                "sync_queued",
                Entered::default(),
            )
            .await
        }
    }
}
