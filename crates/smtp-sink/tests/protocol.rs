//! The SMTP conversation itself, spoken by hand over TCP.

use std::time::Duration;

use mentor_status_smtp_sink::SmtpSink;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const WAIT: Duration = Duration::from_secs(10);

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects and returns the client with the greeting.
    async fn connect(sink: &SmtpSink) -> (Client, String) {
        let stream = TcpStream::connect(sink.addr()).await.unwrap();
        let (read, writer) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// Connects, says EHLO and returns the client.
    async fn ready(sink: &SmtpSink) -> Client {
        let (mut client, greeting) = Client::connect(sink).await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        assert!(client.cmd("EHLO test.local").await.starts_with("250"));
        client
    }

    /// Reads one (possibly multi-line) reply, lines joined by '\n'.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
                .await
                .expect("a reply in time")
                .unwrap();
            assert!(n > 0, "connection closed; got so far: {lines:?}");
            assert!(line.ends_with("\r\n"), "reply lines end in CRLF: {line:?}");
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Sends a command line and returns the reply.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Whether the server closed the connection (EOF before any byte).
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            tokio::time::timeout(WAIT, self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(_)) | Ok(Err(_))
        ) && rest.is_empty()
    }
}

fn code(reply: &str) -> &str {
    &reply[..3]
}

#[tokio::test]
async fn greeting_and_ehlo_advertise_the_extensions() {
    let sink = SmtpSink::start().unwrap();
    assert!(sink.url().starts_with("smtp://127.0.0.1:"));
    assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
    let (mut c, greeting) = Client::connect(&sink).await;
    assert_eq!(code(&greeting), "220");
    let ehlo = c.cmd("EHLO client.example").await;
    let lines: Vec<&str> = ehlo.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("250-"))
    );
    assert!(lines.last().unwrap().starts_with("250 "));
    for extension in ["8BITMIME", "SMTPUTF8", "SIZE ", "AUTH PLAIN LOGIN"] {
        assert!(
            lines.iter().any(|l| l[4..].starts_with(extension)),
            "{extension} in {ehlo}"
        );
    }
    assert!(!ehlo.contains("STARTTLS"));
    assert_eq!(code(&c.cmd("STARTTLS").await), "502");
    assert_eq!(code(&c.cmd("HELO client.example").await), "250");
    assert_eq!(code(&c.cmd("EHLO").await), "501");
    assert_eq!(code(&c.cmd("NOOP").await), "250");
    assert_eq!(code(&c.cmd("FROB nicate").await), "500");
    assert_eq!(code(&c.cmd("QUIT").await), "221");
    assert!(c.closed().await);
}

#[tokio::test]
async fn bad_sequences_get_503() {
    let sink = SmtpSink::start().unwrap();
    let (mut c, _) = Client::connect(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "503");
    assert_eq!(code(&c.cmd("EHLO x").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "503");
    assert_eq!(code(&c.cmd("DATA").await), "503");
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "503");
    assert_eq!(code(&c.cmd("DATA").await), "503", "no recipient yet");
    assert_eq!(
        code(&c.cmd("AUTH PLAIN").await),
        "503",
        "inside a transaction"
    );
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RSET").await), "250");
    assert_eq!(
        code(&c.cmd("RCPT TO:<b@example.no>").await),
        "503",
        "RSET ended it"
    );
    assert_eq!(code(&c.cmd("MAIL FROM:a@example.no").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO b@example.no").await), "501");
    assert_eq!(code(&c.cmd("RCPT TO:<>").await), "501");
    assert_eq!(
        code(&c.cmd("RCPT TO:<b@example.no> NOTIFY=NEVER").await),
        "555"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn data_is_dot_unstuffed_and_ends_at_crlf_dot_crlf() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Client::ready(&sink).await;
    assert_eq!(
        code(&c.cmd("MAIL FROM:<> BODY=8BITMIME SIZE=200").await),
        "250"
    );
    assert_eq!(code(&c.cmd("RCPT TO:<kari@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    c.send(
        b"Subject: prikker\r\n\r\n..en linje med prikk\r\n...\r\nbare LF\n.\nikke slutt\r\n.x\r\n.\r\n",
    )
    .await;
    assert_eq!(code(&c.reply().await), "250");
    let m = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(m.envelope_from, "");
    assert_eq!(
        m.raw,
        b"Subject: prikker\r\n\r\n.en linje med prikk\r\n..\r\nbare LF\n.\nikke slutt\r\nx\r\n"
    );

    // An empty message, and several messages on one connection.
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    assert_eq!(code(&c.cmd(".").await), "250");
    let messages = sink.wait_for(2, WAIT).await;
    assert!(messages[1].raw.is_empty());
    assert_eq!(sink.stats().connections, 1);
}

#[tokio::test]
async fn one_rejected_recipient_leaves_the_others_in_the_transaction() {
    let sink = SmtpSink::start().unwrap();
    sink.faults().reject_recipient("borte@example.no");
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<kari@example.no>").await), "250");
    let rejected = c.cmd("RCPT TO:<BORTE@example.no>").await;
    assert!(
        rejected.starts_with("550 5.1.1 mailbox unavailable"),
        "{rejected}"
    );
    assert_eq!(code(&c.cmd("RCPT TO:<ola@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    c.send(b"Subject: hei\r\n\r\nhei\r\n.\r\n").await;
    assert_eq!(code(&c.reply().await), "250");
    let m = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(m.recipients, vec!["kari@example.no", "ola@example.no"]);
    assert_eq!(sink.stats().recipients_rejected, 1);
}

#[tokio::test]
async fn latin1_quoted_printable_is_decoded_to_utf8() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    c.send(
        b"From: =?ISO-8859-1?Q?P=E5l_=D8degaard?= <pal@example.no>\r\n\
          To: b@example.no\r\n\
          Subject: =?ISO-8859-1?B?5vjl?=\r\n\
          MIME-Version: 1.0\r\n\
          Content-Type: text/plain; charset=ISO-8859-1\r\n\
          Content-Transfer-Encoding: quoted-printable\r\n\
          X-Folded: en\r\n  to\r\n\
          \r\n\
          Bl=E5b=E6rsyltet=F8y =C6=D8=C5\r\n\
          .\r\n",
    )
    .await;
    assert_eq!(code(&c.reply().await), "250");
    let m = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(m.subject().as_deref(), Some("æøå"));
    assert_eq!(m.from().as_deref(), Some("pal@example.no"));
    assert_eq!(m.to(), vec!["b@example.no"]);
    assert_eq!(m.text_body().as_deref(), Some("Blåbærsyltetøy ÆØÅ\r\n"));
    assert_eq!(m.header("x-folded").as_deref(), Some("en to"));
    assert!(m.message_id().is_none());
    assert!(m.html_body().is_none());
}

#[tokio::test]
async fn auth_plain_and_login_by_hand() {
    let sink = SmtpSink::start().unwrap();
    sink.require_auth("mentor", "hemmelig");
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "530");
    // base64("\0mentor\0feil")
    assert_eq!(code(&c.cmd("AUTH PLAIN AG1lbnRvcgBmZWls").await), "535");
    assert_eq!(code(&c.cmd("AUTH PLAIN !!!").await), "501");
    assert_eq!(code(&c.cmd("AUTH CRAM-MD5").await), "504");
    // LOGIN with challenges: "mentor", "hemmelig".
    assert_eq!(c.cmd("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd("bWVudG9y").await, "334 UGFzc3dvcmQ6");
    assert_eq!(code(&c.cmd("aGVtbWVsaWc=").await), "235");
    assert_eq!(
        code(&c.cmd("AUTH PLAIN").await),
        "503",
        "already authenticated"
    );
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");

    // PLAIN without an initial response, then cancelled.
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("AUTH PLAIN").await), "334");
    assert_eq!(code(&c.cmd("*").await), "501");
    assert_eq!(code(&c.cmd("AUTH PLAIN").await), "334");
    // base64("\0mentor\0hemmelig")
    assert_eq!(code(&c.cmd("AG1lbnRvcgBoZW1tZWxpZw==").await), "235");
    assert_eq!(sink.stats().auth_failures, 1);
}

#[tokio::test]
async fn too_long_lines_and_too_big_sizes_are_refused() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Client::ready(&sink).await;
    let long = format!("NOOP {}", "x".repeat(10_000));
    assert!(c.cmd(&long).await.starts_with("500 5.5.6"));
    assert_eq!(code(&c.cmd("NOOP").await), "250", "the session goes on");
    assert_eq!(
        code(&c.cmd("MAIL FROM:<a@example.no> SIZE=999999999999").await),
        "552"
    );
    assert_eq!(
        code(&c.cmd("MAIL FROM:<a@example.no> SIZE=abc").await),
        "501"
    );
    assert_eq!(
        code(&c.cmd("MAIL FROM:<a@example.no> FOO=BAR").await),
        "555"
    );
}

#[tokio::test]
async fn a_long_data_line_is_kept_whole() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    // A line of exactly 64 KiB - 1 + CRLF crosses the server's read chunk
    // between the CR and the LF; the next "." must still end the message.
    let mut data = vec![b'y'; 64 * 1024 - 1];
    data.extend_from_slice(b"\r\n.\r\n");
    c.send(&data).await;
    assert_eq!(code(&c.reply().await), "250");
    let m = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(m.raw.len(), 64 * 1024 + 1);
}

#[tokio::test]
async fn interleaved_connections_keep_their_own_transactions() {
    let sink = SmtpSink::start().unwrap();
    let mut a = Client::ready(&sink).await;
    let mut b = Client::ready(&sink).await;
    assert_eq!(code(&a.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&b.cmd("MAIL FROM:<b@example.no>").await), "250");
    assert_eq!(code(&a.cmd("RCPT TO:<x@example.no>").await), "250");
    assert_eq!(code(&b.cmd("RCPT TO:<y@example.no>").await), "250");
    assert_eq!(code(&b.cmd("DATA").await), "354");
    assert_eq!(code(&a.cmd("DATA").await), "354");
    a.send(b"Subject: a\r\n\r\na\r\n.\r\n").await;
    assert_eq!(code(&a.reply().await), "250");
    b.send(b"Subject: b\r\n\r\nb\r\n.\r\n").await;
    assert_eq!(code(&b.reply().await), "250");
    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(messages[0].envelope_from, "a@example.no");
    assert_eq!(messages[0].recipients, vec!["x@example.no"]);
    assert_eq!(messages[1].envelope_from, "b@example.no");
    assert_eq!(messages[1].recipients, vec!["y@example.no"]);
    assert_eq!(sink.stats().connections, 2);
}

#[tokio::test]
async fn drop_after_data_closes_without_the_final_reply() {
    let sink = SmtpSink::start().unwrap();
    sink.faults().drop_after_data(1);
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    c.send(b"Subject: borte\r\n\r\nhei\r\n.\r\n").await;
    assert!(c.closed().await, "closed without a reply");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_delay_comes_before_every_reply() {
    let sink = SmtpSink::start().unwrap();
    sink.faults().delay(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let (mut c, _) = Client::connect(&sink).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = std::time::Instant::now();
    c.cmd("NOOP").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn subscribers_see_each_message() {
    let sink = SmtpSink::start().unwrap();
    let mut rx = sink.subscribe();
    let mut c = Client::ready(&sink).await;
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    assert_eq!(
        code(&c.cmd("Subject: abonnert\r\n\r\nhei\r\n.").await),
        "250"
    );
    let m = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject().as_deref(), Some("abonnert"));
}

#[tokio::test]
#[should_panic(expected = "timed out after")]
async fn wait_for_panics_at_the_timeout() {
    let sink = SmtpSink::start().unwrap();
    sink.wait_for(1, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn clear_forgets_and_wait_for_counts_afresh() {
    let sink = SmtpSink::start().unwrap();
    let mut c = Client::ready(&sink).await;
    for _ in 0..2 {
        assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
        assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
        assert_eq!(code(&c.cmd("DATA").await), "354");
        assert_eq!(code(&c.cmd("hei\r\n.").await), "250");
    }
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
    sink.clear();
    assert!(sink.messages().is_empty());
    assert_eq!(code(&c.cmd("MAIL FROM:<a@example.no>").await), "250");
    assert_eq!(code(&c.cmd("RCPT TO:<b@example.no>").await), "250");
    assert_eq!(code(&c.cmd("DATA").await), "354");
    assert_eq!(code(&c.cmd("hei\r\n.").await), "250");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(sink.stats().messages_accepted, 3);
}

#[tokio::test]
async fn dropping_the_sink_stops_it() {
    let sink = SmtpSink::start().unwrap();
    let addr = sink.addr();
    let mut c = Client::ready(&sink).await;
    drop(sink);
    assert!(c.closed().await, "open connections are closed");
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn start_on_a_taken_port_fails_and_start_on_a_given_port_works() {
    let first = SmtpSink::start().unwrap();
    assert!(SmtpSink::start_on(first.addr()).is_err());
    let port = first.port();
    drop(first);
    let again = SmtpSink::start_on(("127.0.0.1", port)).unwrap();
    assert_eq!(again.port(), port);
}
