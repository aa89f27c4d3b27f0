//! One SMTP connection: the RFC 5321 subset the sink speaks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::{HOSTNAME, MAX_MESSAGE_SIZE, ReceivedMessage, Shared};

/// The longest command line accepted, CRLF included (RFC 5321 says 512;
/// AUTH responses and SMTPUTF8 addresses may need more).
const MAX_COMMAND_LINE: usize = 4096;
/// How much of a DATA line is read at a time (DATA lines may be any length).
const DATA_CHUNK: u64 = 64 * 1024;
/// Recipients per message before `452 4.5.3`.
const MAX_RECIPIENTS: usize = 1000;

/// Serves one connection until QUIT, EOF, an I/O error or a fault closes it.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut session = Session {
        reader: BufReader::new(read),
        writer: write,
        shared,
        peer,
        helo: None,
        auth_user: None,
        transaction: None,
    };
    match session.run().await {
        Ok(()) => tracing::debug!(%peer, "smtp-sink connection closed"),
        Err(e) => tracing::debug!(%peer, error = %e, "smtp-sink connection ended"),
    }
}

struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    peer: SocketAddr,
    helo: Option<String>,
    auth_user: Option<String>,
    transaction: Option<Transaction>,
}

struct Transaction {
    from: String,
    recipients: Vec<String>,
}

enum Line {
    Text(String),
    TooLong,
    Eof,
}

/// What to do after a command.
enum Next {
    Continue,
    Close,
}

impl Session {
    async fn run(&mut self) -> io::Result<()> {
        self.reply(&format!(
            "220 {HOSTNAME} ESMTP mentor-status smtp-sink ready"
        ))
        .await?;
        loop {
            let line = match self.read_line().await? {
                Line::Eof => return Ok(()),
                Line::TooLong => {
                    self.reply("500 5.5.6 Line too long").await?;
                    continue;
                }
                Line::Text(line) => line,
            };
            let (verb, arg) = match line.split_once(' ') {
                Some((verb, arg)) => (verb, arg.trim()),
                None => (line.as_str(), ""),
            };
            let verb = verb.to_ascii_uppercase();
            if verb == "AUTH" {
                let mechanism = arg.split_whitespace().next().unwrap_or_default();
                tracing::debug!(peer = %self.peer, "C: AUTH {mechanism} ...");
            } else {
                tracing::debug!(peer = %self.peer, "C: {line}");
            }
            let next = match verb.as_str() {
                "EHLO" => self.ehlo(arg, true).await?,
                "HELO" => self.ehlo(arg, false).await?,
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data(arg).await?,
                "AUTH" => self.auth(arg).await?,
                "RSET" => {
                    self.transaction = None;
                    self.ok("250 2.0.0 OK").await?
                }
                "NOOP" => self.ok("250 2.0.0 OK").await?,
                "QUIT" => {
                    self.reply(&format!("221 2.0.0 {HOSTNAME} closing connection"))
                        .await?;
                    Next::Close
                }
                "VRFY" => {
                    self.ok("252 2.1.5 Cannot VRFY user, but will accept message")
                        .await?
                }
                "HELP" => self.ok("214 2.0.0 See RFC 5321").await?,
                "STARTTLS" | "EXPN" | "TURN" | "BDAT" => {
                    self.ok("502 5.5.1 Command not implemented").await?
                }
                _ => self.ok("500 5.5.2 Command unrecognized").await?,
            };
            if let Next::Close = next {
                let _ = self.writer.shutdown().await;
                return Ok(());
            }
        }
    }

    async fn ehlo(&mut self, arg: &str, extended: bool) -> io::Result<Next> {
        if arg.is_empty() {
            let verb = if extended { "EHLO" } else { "HELO" };
            return self.ok(&format!("501 5.5.4 Syntax: {verb} hostname")).await;
        }
        self.helo = Some(arg.to_owned());
        self.transaction = None;
        if extended {
            self.ok(&format!(
                "250-{HOSTNAME} greets {arg}\r\n\
                 250-8BITMIME\r\n\
                 250-SMTPUTF8\r\n\
                 250-ENHANCEDSTATUSCODES\r\n\
                 250-SIZE {MAX_MESSAGE_SIZE}\r\n\
                 250 AUTH PLAIN LOGIN"
            ))
            .await
        } else {
            self.ok(&format!("250 {HOSTNAME}")).await
        }
    }

    async fn mail(&mut self, arg: &str) -> io::Result<Next> {
        if self.helo.is_none() {
            return self.ok("503 5.5.1 Send EHLO or HELO first").await;
        }
        if self.transaction.is_some() {
            return self.ok("503 5.5.1 Nested MAIL command").await;
        }
        let Some((from, params)) = parse_path(arg, "FROM:") else {
            return self.ok("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        for (key, value) in &params {
            match (key.as_str(), value.as_deref()) {
                ("SIZE", Some(size)) => match size.parse::<usize>() {
                    Ok(size) if size > MAX_MESSAGE_SIZE => {
                        return self.ok("552 5.3.4 Message size exceeds fixed limit").await;
                    }
                    Ok(_) => {}
                    Err(_) => return self.ok("501 5.5.4 Invalid SIZE parameter").await,
                },
                ("BODY", Some(body))
                    if body.eq_ignore_ascii_case("7BIT")
                        || body.eq_ignore_ascii_case("8BITMIME") => {}
                ("SMTPUTF8", None) | ("AUTH", Some(_)) => {}
                _ => return self.ok("555 5.5.4 Unsupported MAIL parameter").await,
            }
        }
        if self.shared.required_auth().is_some() && self.auth_user.is_none() {
            return self.ok("530 5.7.0 Authentication required").await;
        }
        if self.shared.faults.temporary_failure.load(Ordering::SeqCst) {
            self.shared
                .counters
                .temporary_failures
                .fetch_add(1, Ordering::SeqCst);
            return self
                .ok("451 4.3.0 Temporary failure, please try again later")
                .await;
        }
        self.transaction = Some(Transaction {
            from,
            recipients: Vec::new(),
        });
        self.ok("250 2.1.0 OK").await
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<Next> {
        let Some(count) = self.transaction.as_ref().map(|t| t.recipients.len()) else {
            return self.ok("503 5.5.1 Need MAIL before RCPT").await;
        };
        let Some((to, params)) = parse_path(arg, "TO:") else {
            return self.ok("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if to.is_empty() {
            return self.ok("501 5.1.3 Empty recipient address").await;
        }
        if !params.is_empty() {
            return self.ok("555 5.5.4 Unsupported RCPT parameter").await;
        }
        if self.shared.faults.is_rejected(&to) {
            self.shared
                .counters
                .recipients_rejected
                .fetch_add(1, Ordering::SeqCst);
            return self
                .ok(&format!("550 5.1.1 mailbox unavailable: <{to}>"))
                .await;
        }
        if count >= MAX_RECIPIENTS {
            return self.ok("452 4.5.3 Too many recipients").await;
        }
        if let Some(transaction) = self.transaction.as_mut() {
            transaction.recipients.push(to);
        }
        self.ok("250 2.1.5 OK").await
    }

    async fn data(&mut self, arg: &str) -> io::Result<Next> {
        if !arg.is_empty() {
            return self.ok("501 5.5.4 Syntax: DATA").await;
        }
        match &self.transaction {
            None => return self.ok("503 5.5.1 Need MAIL before DATA").await,
            Some(t) if t.recipients.is_empty() => {
                return self
                    .ok("503 5.5.1 Need RCPT before DATA (no valid recipients)")
                    .await;
            }
            Some(_) => {}
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let Some(raw) = self.read_data().await? else {
            self.transaction = None;
            return self.ok("552 5.3.4 Message size exceeds fixed limit").await;
        };
        let Some(transaction) = self.transaction.take() else {
            return Ok(Next::Continue);
        };
        let message = ReceivedMessage {
            envelope_from: transaction.from,
            recipients: transaction.recipients,
            raw,
            received_at: chrono::Utc::now(),
            auth_user: self.auth_user.clone(),
        };
        tracing::debug!(peer = %self.peer, "smtp-sink received {}", message.summary());
        self.shared.record(message);
        if self.shared.faults.take_drop() {
            self.shared
                .counters
                .dropped_after_data
                .fetch_add(1, Ordering::SeqCst);
            tracing::debug!(peer = %self.peer, "smtp-sink dropping the connection after DATA");
            return Ok(Next::Close);
        }
        let id = self
            .shared
            .counters
            .messages_accepted
            .load(Ordering::SeqCst);
        self.ok(&format!("250 2.0.0 OK: queued as {id}")).await
    }

    async fn auth(&mut self, arg: &str) -> io::Result<Next> {
        if self.helo.is_none() {
            return self.ok("503 5.5.1 Send EHLO first").await;
        }
        if self.auth_user.is_some() {
            return self.ok("503 5.5.1 Already authenticated").await;
        }
        if self.transaction.is_some() {
            return self
                .ok("503 5.5.1 AUTH not permitted during a mail transaction")
                .await;
        }
        let mut words = arg.split_whitespace();
        let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(initial) => initial,
                    None => match self.challenge("").await? {
                        Some(response) => response,
                        None => return Ok(Next::Close),
                    },
                };
                match decode_sasl(&response) {
                    Err(reply) => return self.ok(reply).await,
                    Ok(decoded) => {
                        let mut fields = decoded.split('\0');
                        match (fields.next(), fields.next(), fields.next(), fields.next()) {
                            (Some(_authzid), Some(user), Some(password), None) => {
                                (user.to_owned(), password.to_owned())
                            }
                            _ => return self.ok("501 5.5.2 Malformed PLAIN response").await,
                        }
                    }
                }
            }
            "LOGIN" => {
                let user = match initial {
                    Some(initial) => initial,
                    // "Username:"
                    None => match self.challenge("VXNlcm5hbWU6").await? {
                        Some(response) => response,
                        None => return Ok(Next::Close),
                    },
                };
                let user = match decode_sasl(&user) {
                    Ok(user) => user,
                    Err(reply) => return self.ok(reply).await,
                };
                // "Password:"
                let password = match self.challenge("UGFzc3dvcmQ6").await? {
                    Some(response) => response,
                    None => return Ok(Next::Close),
                };
                match decode_sasl(&password) {
                    Ok(password) => (user, password),
                    Err(reply) => return self.ok(reply).await,
                }
            }
            "" => return self.ok("501 5.5.4 Syntax: AUTH mechanism").await,
            _ => return self.ok("504 5.5.4 Unrecognized authentication type").await,
        };
        let accepted = match self.shared.required_auth() {
            None => true,
            Some((user, password)) => credentials.0 == user && credentials.1 == password,
        };
        if accepted {
            self.auth_user = Some(credentials.0);
            self.ok("235 2.7.0 Authentication successful").await
        } else {
            self.shared
                .counters
                .auth_failures
                .fetch_add(1, Ordering::SeqCst);
            self.ok("535 5.7.8 Authentication credentials invalid")
                .await
        }
    }

    /// Sends a `334` challenge and reads the client's response line; `None`
    /// at EOF.
    async fn challenge(&mut self, challenge: &str) -> io::Result<Option<String>> {
        self.reply(&format!("334 {challenge}")).await?;
        match self.read_line().await? {
            Line::Text(line) => Ok(Some(line)),
            Line::TooLong => Ok(Some(String::new())),
            Line::Eof => Ok(None),
        }
    }

    /// Reads one command line, without its line ending.
    async fn read_line(&mut self) -> io::Result<Line> {
        let mut buf = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_COMMAND_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Ok(Line::Eof);
        }
        if !buf.ends_with(b"\n") {
            if buf.len() < MAX_COMMAND_LINE {
                // EOF in the middle of a line.
                return Ok(Line::Eof);
            }
            // Skip the rest of the over-long line.
            loop {
                buf.clear();
                let n = (&mut self.reader)
                    .take(DATA_CHUNK)
                    .read_until(b'\n', &mut buf)
                    .await?;
                if n == 0 {
                    return Ok(Line::Eof);
                }
                if buf.ends_with(b"\n") {
                    return Ok(Line::TooLong);
                }
            }
        }
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
        Ok(Line::Text(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// Reads the message after `354` up to the `CRLF.CRLF` terminator, with
    /// dot-unstuffing. `None` when it was larger than [`MAX_MESSAGE_SIZE`]
    /// (it is read to the end all the same). EOF before the terminator is an
    /// error: the transaction is abandoned.
    async fn read_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut message = Vec::new();
        let mut too_big = false;
        // The CRLF ending the DATA command counts as the one before the
        // first line, so an immediate "." is an empty message.
        let mut at_line_start = true;
        let mut prev_cr = false;
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            let n = (&mut self.reader)
                .take(DATA_CHUNK)
                .read_until(b'\n', &mut chunk)
                .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during DATA",
                ));
            }
            let mut content = &chunk[..];
            if at_line_start {
                if content == b".\r\n" {
                    break;
                }
                if content.first() == Some(&b'.') {
                    content = &content[1..];
                }
            }
            // Only CRLF ends a line: a bare LF does not start a new one, so
            // neither "\n.\n" nor "\n.\r\n" ends the message. (A chunk may
            // end between the CR and the LF of a very long line.)
            at_line_start = chunk.ends_with(b"\r\n") || (chunk == b"\n" && prev_cr);
            prev_cr = chunk.ends_with(b"\r");
            if !too_big {
                if message.len() + content.len() > MAX_MESSAGE_SIZE {
                    too_big = true;
                    message = Vec::new();
                } else {
                    message.extend_from_slice(content);
                }
            }
        }
        Ok((!too_big).then_some(message))
    }

    /// Replies and goes on with the next command.
    async fn ok(&mut self, reply: &str) -> io::Result<Next> {
        self.reply(reply).await?;
        Ok(Next::Continue)
    }

    /// Sends one reply (lines separated by CRLF, the last CRLF added here),
    /// after the configured delay.
    async fn reply(&mut self, reply: &str) -> io::Result<()> {
        let delay = self.shared.faults.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        tracing::trace!(peer = %self.peer, "S: {reply}");
        let mut bytes = Vec::with_capacity(reply.len() + 2);
        bytes.extend_from_slice(reply.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.writer.write_all(&bytes).await?;
        self.writer.flush().await
    }
}

/// Decodes a base64 SASL response; `Err` holds the reply for a bad one.
fn decode_sasl(response: &str) -> Result<String, &'static str> {
    let response = response.trim();
    if response == "*" {
        return Err("501 5.0.0 Authentication cancelled");
    }
    if response == "=" {
        return Ok(String::new());
    }
    let bytes = BASE64
        .decode(response)
        .map_err(|_| "501 5.5.2 Invalid base64 in AUTH response")?;
    String::from_utf8(bytes).map_err(|_| "501 5.5.2 AUTH response is not UTF-8")
}

/// An ESMTP parameter: upper-cased keyword and the value, if any.
type Param = (String, Option<String>);

/// Parses `FROM:<path> PARAM[=VALUE]...` (or `TO:...`): the address without
/// angle brackets (and without a source route), and the parameters with
/// upper-cased keys. `None` on a syntax error.
fn parse_path(arg: &str, keyword: &str) -> Option<(String, Vec<Param>)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let (path, params) = match rest.strip_prefix('<') {
        Some(inner) => {
            let end = inner.find('>')?;
            (&inner[..end], &inner[end + 1..])
        }
        // Lenient: a bare address without angle brackets.
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    let path = match path.strip_prefix('@') {
        // A source route, "@a,@b:user@c": ignored as RFC 5321 allows.
        Some(route) => route.split_once(':')?.1,
        None => path,
    };
    if path.contains(char::is_whitespace) {
        return None;
    }
    let params = params
        .split_whitespace()
        .map(|param| match param.split_once('=') {
            Some((key, value)) => (key.to_ascii_uppercase(), Some(value.to_owned())),
            None => (param.to_ascii_uppercase(), None),
        })
        .collect();
    Some((path.to_owned(), params))
}

#[cfg(test)]
mod tests {
    use super::parse_path;

    #[test]
    fn parses_paths_and_parameters() {
        let (path, params) = parse_path("FROM:<a@b.no> SIZE=12 body=8BITMIME", "FROM:").unwrap();
        assert_eq!(path, "a@b.no");
        assert_eq!(
            params,
            vec![
                ("SIZE".to_owned(), Some("12".to_owned())),
                ("BODY".to_owned(), Some("8BITMIME".to_owned())),
            ]
        );
        assert_eq!(parse_path("from: <>", "FROM:").unwrap().0, "");
        assert_eq!(
            parse_path("TO:<@relay.no,@x.no:kari@nordmann.no>", "TO:")
                .unwrap()
                .0,
            "kari@nordmann.no"
        );
        assert_eq!(parse_path("TO:ola@x.no", "TO:").unwrap().0, "ola@x.no");
        assert!(parse_path("TO <ola@x.no>", "TO:").is_none());
        assert!(parse_path("TO:<ola@x.no", "TO:").is_none());
        assert!(parse_path("", "FROM:").is_none());
    }
}
