//! What an email says: for a notification kind (or an alert event), a language and the stored JSON
//! payload, the subject, a plain-text body and an HTML body.
//!
//! Each kind's payload is first parsed into a typed struct (parse, don't validate: a missing or
//! ill-typed field is a [`RenderError`] naming the kind and the field). The kind's module then writes
//! the message in the recipient's language as a `Message` — paragraphs, facts and lists of plain
//! text — and two askama layouts put it on the page: `templates/email/layout.txt` verbatim and
//! `templates/email/layout.html` with every value HTML-escaped. Text and HTML therefore always say the
//! same thing, and no value reaches the HTML unescaped.
//!
//! Only the payload fields an email shows are required; the others (`threshold_days` and
//! `business_date` of a reminder, `from_status` and `resume_on` of a system transition,
//! `digest_id`, `mentor_id`s, …) may be absent.

mod alert;
mod coordinator;
mod mentor;
mod words;

#[cfg(test)]
mod tests;

use askama::Template;
use domain::Locale;
use serde::de::DeserializeOwned;

/// What [`render`] needs to write one email.
#[derive(Debug, Clone, Copy)]
pub struct EmailContext<'a> {
    /// Signs the message and names the sender in its footer.
    pub org_name: &'a str,
    /// The greeting's name; mentor emails fall back to the payload's `mentor_name`.
    pub recipient_name: Option<&'a str>,
    pub locale: Locale,
    /// A notification kind, or `alert_opened` / `alert_reminder` / `alert_resolved`: see [`KINDS`].
    pub kind: &'a str,
    pub payload: &'a serde_json::Value,
}

/// One email, ready to send as `multipart/alternative`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why an email cannot be written. Never worth retrying: the same input fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no email template for kind `{kind}`")]
    UnknownKind { kind: String },
    /// The payload lacks a field the email needs, or a field has the wrong type. `field` is the path
    /// of the missing or ill-typed value (`days_left`, `alert.severity`, `transitions[0].to_status`;
    /// `.` for the payload itself), `detail` what is wrong with it.
    #[error("payload of `{kind}` email is not as expected{}: {detail}", at(field))]
    Payload {
        kind: String,
        field: String,
        detail: String,
    },
    #[error("cannot render the `{kind}` email: {source}")]
    Template {
        kind: String,
        #[source]
        source: askama::Error,
    },
}

fn at(field: &str) -> String {
    if field.is_empty() || field == "." {
        String::new()
    } else {
        format!(" at `{field}`")
    }
}

/// Every kind [`render`] knows.
pub const KINDS: &[&str] = &[
    "certification_reminder",
    "certification_expired",
    "auto_resumed",
    "resume_notice",
    "status_changed",
    "mentor_paused",
    "mentor_resumed",
    "coordinator_digest",
    "alert_opened",
    "alert_reminder",
    "alert_resolved",
];

/// Write the email of `ctx.kind` in `ctx.locale`.
pub fn render(ctx: &EmailContext) -> Result<RenderedEmail, RenderError> {
    let message = match ctx.kind {
        "certification_reminder" => mentor::certification_reminder(ctx, &parse(ctx)?),
        "certification_expired" => mentor::certification_expired(ctx, &parse(ctx)?),
        "auto_resumed" => mentor::auto_resumed(ctx, &parse(ctx)?),
        "resume_notice" => mentor::resume_notice(ctx, &parse(ctx)?),
        "status_changed" => mentor::status_changed(ctx, &parse(ctx)?),
        "mentor_paused" => coordinator::mentor_paused(ctx, &parse(ctx)?),
        "mentor_resumed" => coordinator::mentor_resumed(ctx, &parse(ctx)?),
        "coordinator_digest" => coordinator::digest(ctx, &parse(ctx)?),
        "alert_opened" => alert::opened(ctx, &parse(ctx)?),
        "alert_reminder" => alert::reminder(ctx, &parse(ctx)?),
        "alert_resolved" => alert::resolved(ctx, &parse(ctx)?),
        other => {
            return Err(RenderError::UnknownKind {
                kind: other.to_owned(),
            });
        }
    };
    let template_error = |source| RenderError::Template {
        kind: ctx.kind.to_owned(),
        source,
    };
    let lang = ctx.locale.as_str();
    Ok(RenderedEmail {
        text: TextEmail { m: &message }.render().map_err(template_error)?,
        html: HtmlEmail { lang, m: &message }
            .render()
            .map_err(template_error)?,
        subject: message.subject,
    })
}

/// The kind's payload as its typed struct.
fn parse<T: DeserializeOwned>(ctx: &EmailContext) -> Result<T, RenderError> {
    serde_path_to_error::deserialize(ctx.payload).map_err(|e| {
        let path = e.path().to_string();
        let detail = e.into_inner().to_string();
        // serde names a missing field in its message only; the path ends at the object lacking it.
        let missing = detail
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name);
        let field = match missing {
            Some(name) if path == "." => name.to_owned(),
            Some(name) => format!("{path}.{name}"),
            None => path,
        };
        RenderError::Payload {
            kind: ctx.kind.to_owned(),
            field,
            detail,
        }
    })
}

/// An email's content in one language, as plain text: the layouts escape it for HTML.
#[derive(Debug, Clone)]
struct Message {
    subject: String,
    greeting: Option<String>,
    blocks: Vec<Block>,
    /// "Vennlig hilsen" above the organisation's name; none for operations emails.
    closing: Option<String>,
    org: String,
    footer: String,
}

#[derive(Debug, Clone)]
enum Block {
    Paragraph(String),
    /// Label and value pairs: dates, statuses, reasons.
    Facts(Vec<Fact>),
    List(List),
}

#[derive(Debug, Clone)]
struct Fact {
    label: String,
    value: String,
}

/// A headed list, and "… and N more" when it shows fewer items than there are.
#[derive(Debug, Clone)]
struct List {
    heading: String,
    items: Vec<String>,
    more: Option<String>,
}

impl Message {
    /// A message signed by the context's organisation, with its footer.
    fn new(ctx: &EmailContext, subject: String) -> Self {
        let org = ctx.org_name;
        Message {
            subject,
            greeting: None,
            blocks: Vec::new(),
            closing: Some(words::pick(ctx.locale, "Vennlig hilsen", "Kind regards,").to_owned()),
            org: org.to_owned(),
            footer: words::pick(
                ctx.locale,
                format!("Denne e-posten er sendt automatisk fra {org}."),
                format!("This email was sent automatically by {org}."),
            ),
        }
    }

    /// "Hei Kari," — or "Hei," without a name.
    fn greet(mut self, locale: Locale, name: Option<&str>) -> Self {
        let greeting = match (locale, name) {
            (Locale::Nb, Some(name)) => format!("Hei {name},"),
            (Locale::Nb, None) => "Hei,".to_owned(),
            (Locale::En, Some(name)) => format!("Hi {name},"),
            (Locale::En, None) => "Hello,".to_owned(),
        };
        self.greeting = Some(greeting);
        self
    }

    fn p(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    fn facts(mut self, facts: Vec<Fact>) -> Self {
        if !facts.is_empty() {
            self.blocks.push(Block::Facts(facts));
        }
        self
    }

    fn list(mut self, list: List) -> Self {
        self.blocks.push(Block::List(list));
        self
    }
}

fn fact(label: impl Into<String>, value: impl Into<String>) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

#[derive(Template)]
#[template(path = "email/layout.txt")]
struct TextEmail<'a> {
    m: &'a Message,
}

impl TextEmail<'_> {
    /// A paragraph, wrapped for plain-text readers.
    fn wrap(&self, text: &str) -> String {
        wrap(text, "", "")
    }

    /// `Label: value`, continued indented.
    fn fact(&self, fact: &Fact) -> String {
        wrap(&format!("{}: {}", fact.label, fact.value), "", "  ")
    }

    /// A list item: `- ` and the item, continued under its first word.
    fn item(&self, text: &str) -> String {
        wrap(text, "- ", "  ")
    }
}

#[derive(Template)]
#[template(path = "email/layout.html")]
struct HtmlEmail<'a> {
    lang: &'a str,
    m: &'a Message,
}

/// Longest line of a plain-text body, where words allow.
const TEXT_WIDTH: usize = 72;

/// `text` wrapped at [`TEXT_WIDTH`] between words, its first line after `first`, the others after
/// `rest`. Its own line breaks stay; a word longer than a line gets a line of its own.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prefix = first;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            prefix = rest;
        }
        out.push_str(prefix);
        let mut width = prefix.chars().count();
        let mut empty = true;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let len = word.chars().count();
            if !empty && width + 1 + len > TEXT_WIDTH {
                out.push('\n');
                out.push_str(rest);
                width = rest.chars().count();
                empty = true;
            }
            if !empty {
                out.push(' ');
                width += 1;
            }
            out.push_str(word);
            width += len;
            empty = false;
        }
    }
    out
}
