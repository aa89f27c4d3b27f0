//! What every page shares: its frame (title, menu, who is signed in, a notice or an error), how a
//! template becomes a response, and how the engine's refusals read in the viewer's language.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use domain::access::{self, Permission, Target};
use domain::{Locale, MentorId};
use engine::access::principal;
use engine::{EngineError, FieldError};
use store::{Org, StoreError, User};

use super::words::Words;
use crate::problem::status_of;

/// Who is looking: the signed-in user of a live session, their organisation and language.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub user: User,
    pub org: Org,
    pub csrf: String,
    pub t: &'static Words,
}

impl Viewer {
    pub fn locale(&self) -> Locale {
        self.t.locale
    }

    /// The mentor this login speaks for, when it is a mentor's own login.
    pub fn own_mentor(&self) -> Option<MentorId> {
        (self.user.role == domain::Role::Mentor)
            .then_some(self.user.mentor_id)
            .flatten()
    }

    /// Whether the access rules let this viewer use `permission` on `target`.
    pub fn may(&self, permission: Permission, target: Target) -> bool {
        access::may(&principal(&self.user), permission, target)
    }

    /// Whether this viewer manages the organisation's mentors (lists, operations pages).
    pub fn manages(&self) -> bool {
        self.may(
            Permission::ManageMentors,
            Target::Organisation(self.user.org_id),
        )
    }

    /// Whether this viewer administers the organisation (settings, pushing everyone).
    pub fn is_admin(&self) -> bool {
        self.may(
            Permission::Administer,
            Target::Organisation(self.user.org_id),
        )
    }

    /// The mentor `id` of this viewer's organisation, as an access target.
    pub fn mentor(&self, id: MentorId) -> Target {
        Target::Mentor {
            org: self.user.org_id,
            id,
        }
    }

    /// The frame of a page titled `title`, with `current` the active menu entry.
    pub fn chrome(&self, title: impl Into<String>, current: &str) -> Chrome {
        Chrome::signed_in(self, title.into(), current)
    }

    /// An error page in the frame.
    pub fn error(&self, status: StatusCode, message: impl Into<String>) -> Response {
        error_page(
            self.chrome(self.t.error_heading, ""),
            status,
            message.into(),
        )
    }
}

/// One entry of the menu.
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame of a page.
pub(crate) struct Chrome {
    pub t: &'static Words,
    pub title: String,
    /// Empty on the login page.
    pub org_name: String,
    pub user_email: String,
    /// The session's anti-CSRF token, for the logout form.
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub signed_in: bool,
    /// What the last action did.
    pub notice: Option<String>,
    /// Why the last action was refused.
    pub error: Option<String>,
}

impl Chrome {
    pub fn signed_in(viewer: &Viewer, title: String, current: &str) -> Chrome {
        let t = viewer.t;
        let mut nav = Vec::new();
        if viewer.manages() {
            nav.push(("/mentors", t.nav_mentors));
            nav.push(("/sync", t.nav_sync));
            nav.push(("/alerts", t.nav_alerts));
            nav.push(("/runs", t.nav_runs));
            if viewer.is_admin() {
                nav.push(("/settings", t.nav_settings));
            }
        } else {
            nav.push(("/mentors", t.nav_my_page));
        }
        Chrome {
            t,
            title,
            org_name: viewer.org.name.clone(),
            user_email: viewer.user.email.to_string(),
            csrf: viewer.csrf.clone(),
            nav: nav
                .into_iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: href == current,
                })
                .collect(),
            signed_in: true,
            notice: None,
            error: None,
        }
    }

    pub fn signed_out(t: &'static Words, title: String) -> Chrome {
        Chrome {
            t,
            title,
            org_name: String::new(),
            user_email: String::new(),
            csrf: String::new(),
            nav: Vec::new(),
            signed_in: false,
            notice: None,
            error: None,
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Chrome {
        self.notice = notice;
        self
    }

    pub fn with_error(mut self, error: Option<String>) -> Chrome {
        self.error = error;
        self
    }
}

/// A rendered template with `status`. A template that fails to render is a bug: logged, and
/// answered with a plain 500.
pub(crate) fn html<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
pub(crate) struct ErrorPage {
    pub chrome: Chrome,
    pub t: &'static Words,
    pub message: String,
}

pub(crate) fn error_page(chrome: Chrome, status: StatusCode, message: String) -> Response {
    let t = chrome.t;
    html(status, &ErrorPage { chrome, t, message })
}

/// An engine error as a status and a sentence for the viewer. Never a raw 500: unexpected failures
/// are logged and told in words.
pub(crate) fn explain(t: &Words, error: &EngineError) -> (StatusCode, String) {
    let words = match error {
        EngineError::NotFound { .. } => t.error_not_found.to_owned(),
        EngineError::Forbidden(_) => t.error_forbidden.to_owned(),
        EngineError::Refused { refusal, current } => match refusal {
            domain::Refusal::ResumeOnNotAfterToday { .. } => {
                t.error_resume_on_not_after_today.to_owned()
            }
            domain::Refusal::NotAllowed { action, .. } => t.refused(*action, *current),
            _ => t.error_conflict.to_owned(),
        },
        EngineError::Invalid(fields) => fields_message(t, fields),
        EngineError::InvalidRows(_) => t.error_invalid_input.to_owned(),
        EngineError::Conflict(_) | EngineError::Store(StoreError::Conflict(_)) => {
            t.error_conflict.to_owned()
        }
        EngineError::Store(StoreError::NotFound { .. }) => t.error_not_found.to_owned(),
        EngineError::Store(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, "dashboard: the database is unavailable");
            t.error_unavailable.to_owned()
        }
        EngineError::Store(e) => {
            tracing::error!(error = %e, "dashboard: a request failed");
            t.error_internal.to_owned()
        }
    };
    (status_of(error), words)
}

/// Invalid fields, in words for the fields the dashboard's forms have.
fn fields_message(t: &Words, fields: &[FieldError]) -> String {
    let mut messages: Vec<&str> = fields
        .iter()
        .map(|f| {
            let field = f.field.rsplit('.').next().unwrap_or(&f.field);
            match field {
                "reason" => t.error_reason_required,
                "resume_on" => t.error_resume_on_not_after_today,
                "expires_on" | "issued_on" => t.error_expires_before_issued,
                "thresholds_days" => t.error_thresholds_invalid,
                "locale" => t.error_locale_invalid,
                _ => t.error_invalid_input,
            }
        })
        .collect();
    messages.dedup();
    messages.join(" ")
}

/// An error page for an engine error, in the viewer's frame.
pub(crate) fn failed(viewer: &Viewer, error: &EngineError) -> Response {
    let (status, message) = explain(viewer.t, error);
    viewer.error(status, message)
}
