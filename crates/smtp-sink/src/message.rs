//! A received message and its parsed views.

use chrono::{DateTime, Utc};
use mail_parser::{HeaderForm, Message, MessageParser, MimeHeaders, PartType};

/// A message as the sink received it: the envelope and the raw content
/// (dot-unstuffed, without the terminating `.`), with helpers that parse it
/// with `mail-parser`. Every helper parses the message anew: cheap for test
/// sizes; use [`parsed`](Self::parsed) to look at several things at once.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The `MAIL FROM` path, without angle brackets (empty for `<>`).
    pub envelope_from: String,
    /// The accepted `RCPT TO` paths, in order, without angle brackets.
    pub recipients: Vec<String>,
    /// The message as sent after `DATA`, lines ending in CRLF.
    pub raw: Vec<u8>,
    pub received_at: DateTime<Utc>,
    /// The user the client authenticated as, if it did.
    pub auth_user: Option<String>,
}

impl ReceivedMessage {
    /// The message parsed by `mail-parser`; `None` only for input it cannot
    /// make anything of (e.g. empty).
    pub fn parsed(&self) -> Option<Message<'_>> {
        MessageParser::default().parse(&self.raw)
    }

    /// The `Message-ID`, without angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.parsed()?.message_id().map(str::to_owned)
    }

    /// The decoded `Subject` (RFC 2047 encoded words decoded).
    pub fn subject(&self) -> Option<String> {
        self.parsed()?.subject().map(str::to_owned)
    }

    /// The first header named `name` (any case), unfolded and with RFC 2047
    /// encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let parsed = self.parsed()?;
        let values = parsed.header_as(name.to_owned(), HeaderForm::Text);
        values.into_iter().find_map(|value| match value {
            mail_parser::HeaderValue::Text(text) => Some(text.into_owned()),
            mail_parser::HeaderValue::TextList(list) => Some(list.join(", ")),
            mail_parser::HeaderValue::Empty => Some(String::new()),
            _ => None,
        })
    }

    /// The address of the first `From` mailbox.
    pub fn from(&self) -> Option<String> {
        self.parsed()?.from()?.first()?.address().map(str::to_owned)
    }

    /// The addresses in the `To` header(s), in order.
    pub fn to(&self) -> Vec<String> {
        let Some(parsed) = self.parsed() else {
            return Vec::new();
        };
        parsed
            .all_to()
            .flat_map(|address| address.iter())
            .filter_map(|addr| addr.address().map(str::to_owned))
            .collect()
    }

    /// The first inline `text/plain` body part, transfer-decoded and
    /// converted from its charset to UTF-8 (not derived from HTML).
    pub fn text_body(&self) -> Option<String> {
        let parsed = self.parsed()?;
        parsed.text_bodies().find_map(|part| match &part.body {
            PartType::Text(text)
                if part.content_type().is_none() || part.is_content_type("text", "plain") =>
            {
                Some(text.to_string())
            }
            _ => None,
        })
    }

    /// The first inline `text/html` body part, decoded to UTF-8 (not derived
    /// from plain text).
    pub fn html_body(&self) -> Option<String> {
        let parsed = self.parsed()?;
        parsed.html_bodies().find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        })
    }

    /// The raw message as text (invalid UTF-8 replaced).
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// One line: envelope, subject and size.
    pub fn summary(&self) -> String {
        format!(
            "from <{}> to {} subject {:?} ({} bytes)",
            self.envelope_from,
            self.recipients
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(", "),
            self.subject().unwrap_or_default(),
            self.raw.len()
        )
    }
}

impl std::fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("envelope_from", &self.envelope_from)
            .field("recipients", &self.recipients)
            .field("raw", &String::from_utf8_lossy(&self.raw))
            .field("received_at", &self.received_at)
            .field("auth_user", &self.auth_user)
            .finish()
    }
}
