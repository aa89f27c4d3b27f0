//! The sink driven by a real SMTP client (lettre) over TCP.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, SmtpTransport, Tokio1Executor, Transport,
};
use mentor_status_smtp_sink::SmtpSink;

const WAIT: Duration = Duration::from_secs(10);

const TEXT: &str = "Hei Kari!\n\nDu har ikke levert statusrapporten for uke 12.\n\
                    Blåbærsyltetøy på brødskiva før fristen: ÆØÅ æøå.\n";
const HTML: &str = "<p>Hei Kari!</p><p>Blåbærsyltetøy på brødskiva: <b>ÆØÅ æøå</b>.</p>";

fn transport(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
        .expect("the sink's url is a valid SMTP url")
        .timeout(Some(Duration::from_secs(5)))
        .build()
}

fn mailbox(s: &str) -> Mailbox {
    s.parse().expect("valid mailbox")
}

fn message(to: &[&str], subject: &str) -> Message {
    let mut builder = Message::builder()
        .from(mailbox("Mentor Status <status@example.no>"))
        .subject(subject);
    for to in to {
        builder = builder.to(mailbox(to));
    }
    builder.body(String::from("Hei.\n")).expect("valid message")
}

#[tokio::test]
async fn multipart_text_and_html_with_norwegian_text_arrives_decoded() {
    let sink = SmtpSink::start().unwrap();
    let email = Message::builder()
        .from(mailbox("Mentor Status <status@example.no>"))
        .to(mailbox("Kari Nordmann <kari@example.no>"))
        .subject("Påminnelse: statusrapport for uke 12 – æøå ÆØÅ")
        .message_id(Some("<status-12.kari@example.no>".to_owned()))
        .multipart(MultiPart::alternative_plain_html(
            TEXT.to_owned(),
            HTML.to_owned(),
        ))
        .unwrap();
    transport(&sink).send(email).await.unwrap();

    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.envelope_from, "status@example.no");
    assert_eq!(m.recipients, vec!["kari@example.no".to_owned()]);
    assert_eq!(
        m.subject().as_deref(),
        Some("Påminnelse: statusrapport for uke 12 – æøå ÆØÅ")
    );
    assert_eq!(m.from().as_deref(), Some("status@example.no"));
    assert_eq!(m.to(), vec!["kari@example.no".to_owned()]);
    assert_eq!(
        m.text_body().map(|t| t.replace("\r\n", "\n")).as_deref(),
        Some(TEXT)
    );
    assert_eq!(
        m.html_body().map(|t| t.trim_end().to_owned()).as_deref(),
        Some(HTML)
    );
    assert_eq!(m.message_id().as_deref(), Some("status-12.kari@example.no"));
    assert_eq!(
        m.header("message-id").as_deref(),
        Some("<status-12.kari@example.no>")
    );
    assert_eq!(m.header("MIME-Version").as_deref(), Some("1.0"));
    assert!(m.header("X-Not-There").is_none());
    assert!(m.auth_user.is_none());
    assert_eq!(sink.stats().messages_accepted, 1);
}

#[tokio::test]
async fn norwegian_text_comes_out_right_whatever_the_transfer_encoding() {
    let sink = SmtpSink::start().unwrap();
    let transport = transport(&sink);
    let encodings = [
        ContentTransferEncoding::QuotedPrintable,
        ContentTransferEncoding::Base64,
        ContentTransferEncoding::EightBit,
    ];
    for encoding in encodings {
        let body = Body::new_with_encoding(TEXT.to_owned(), encoding).unwrap();
        let email = Message::builder()
            .from(mailbox("status@example.no"))
            .to(mailbox("kari@example.no"))
            .subject(format!("{encoding:?} æøå"))
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .unwrap();
        transport.send(email).await.unwrap();
    }
    let messages = sink.wait_for(encodings.len(), WAIT).await;
    for (m, encoding) in messages.iter().zip(encodings) {
        assert_eq!(m.subject(), Some(format!("{encoding:?} æøå")));
        // Encoders may add line breaks at the end.
        assert_eq!(
            m.text_body()
                .map(|t| t.replace("\r\n", "\n").trim_end().to_owned())
                .as_deref(),
            Some(TEXT.trim_end()),
            "{encoding:?}: {}",
            m.raw_text()
        );
        assert!(m.html_body().is_none());
    }
}

#[tokio::test]
async fn several_recipients_are_all_in_the_envelope() {
    let sink = SmtpSink::start().unwrap();
    let email = Message::builder()
        .from(mailbox("status@example.no"))
        .to(mailbox("Kari <kari@example.no>"))
        .to(mailbox("ola@example.no"))
        .cc(mailbox("leder@example.no"))
        .bcc(mailbox("arkiv@example.no"))
        .subject("Til flere")
        .body(String::from("Hei alle sammen.\n"))
        .unwrap();
    transport(&sink).send(email).await.unwrap();

    let m = &sink.wait_for(1, WAIT).await[0];
    let mut recipients = m.recipients.clone();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            "arkiv@example.no",
            "kari@example.no",
            "leder@example.no",
            "ola@example.no"
        ]
    );
    assert_eq!(m.to(), vec!["kari@example.no", "ola@example.no"]);
    assert!(m.header("Bcc").is_none(), "lettre does not send Bcc");
}

#[tokio::test]
async fn a_rejected_recipient_is_a_permanent_error_and_others_still_deliver() {
    let sink = SmtpSink::start().unwrap();
    sink.faults().reject_recipient("Borte@Example.no");
    let transport = transport(&sink);

    let err = transport
        .send(message(&["kari@example.no", "borte@example.no"], "Til to"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));
    assert!(err.to_string().contains("mailbox unavailable"), "{err}");
    assert_eq!(sink.stats().recipients_rejected, 1);

    transport
        .send(message(&["kari@example.no"], "Bare Kari"))
        .await
        .unwrap();
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipients, vec!["kari@example.no"]);
    assert_eq!(messages[0].subject().as_deref(), Some("Bare Kari"));

    sink.faults().accept_recipient("borte@example.no");
    transport
        .send(message(&["borte@example.no"], "Tilbake"))
        .await
        .unwrap();
    sink.wait_for(2, WAIT).await;
}

#[tokio::test]
async fn a_temporary_failure_is_transient_and_then_recovers() {
    let sink = SmtpSink::start().unwrap();
    let transport = transport(&sink);
    sink.faults().temporary_failure(true);

    let err = transport
        .send(message(&["kari@example.no"], "Prøv igjen"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("451"));
    assert!(sink.messages().is_empty());

    sink.faults().temporary_failure(false);
    transport
        .send(message(&["kari@example.no"], "Prøv igjen"))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(sink.stats().temporary_failures, 1);
}

#[tokio::test]
async fn drop_after_data_keeps_the_message_but_the_client_sees_an_error() {
    let sink = SmtpSink::start().unwrap();
    let transport = transport(&sink);
    sink.faults().drop_after_data(1);

    let err = transport
        .send(message(&["kari@example.no"], "Kanskje levert"))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "not a permanent refusal: {err}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "the sink holds the message");
    assert_eq!(messages[0].subject().as_deref(), Some("Kanskje levert"));
    assert_eq!(sink.stats().dropped_after_data, 1);

    // Only the next one message was dropped.
    transport
        .send(message(&["kari@example.no"], "Levert"))
        .await
        .unwrap();
    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(messages[1].subject().as_deref(), Some("Levert"));
    assert_eq!(sink.stats().messages_accepted, 2);
}

#[tokio::test]
async fn stop_and_resume_listening_on_the_same_port() {
    let sink = SmtpSink::start().unwrap();
    let port = sink.port();
    let transport = transport(&sink);
    transport
        .send(message(&["kari@example.no"], "Før"))
        .await
        .unwrap();

    sink.stop_listening();
    assert!(!sink.is_listening());
    let refused = tokio::net::TcpStream::connect(sink.addr()).await;
    assert!(refused.is_err(), "connections are refused while stopped");
    let err = transport
        .send(message(&["kari@example.no"], "Under"))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    sink.stop_listening(); // idempotent

    sink.resume_listening().unwrap();
    sink.resume_listening().unwrap(); // idempotent
    assert!(sink.is_listening());
    assert_eq!(sink.port(), port);
    // The same (pooled) transport recovers.
    transport
        .send(message(&["kari@example.no"], "Etter"))
        .await
        .unwrap();
    let subjects: Vec<_> = sink
        .wait_for(2, WAIT)
        .await
        .iter()
        .map(|m| m.subject().unwrap())
        .collect();
    assert_eq!(subjects, vec!["Før", "Etter"]);
}

#[tokio::test]
async fn stop_listening_closes_open_connections() {
    let sink = SmtpSink::start().unwrap();
    let mut stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    use tokio::io::AsyncReadExt;
    let mut greeting = [0u8; 3];
    stream.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"220");
    sink.stop_listening();
    let mut rest = Vec::new();
    // The rest of the greeting, then EOF (or a reset).
    let closed = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was closed");
}

#[tokio::test]
async fn any_credentials_are_accepted_by_default() {
    let sink = SmtpSink::start().unwrap();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port())
        .credentials(Credentials::new("hvem".into(), "somhelst".into()))
        .build();
    transport
        .send(message(&["kari@example.no"], "Innlogget"))
        .await
        .unwrap();
    let m = &sink.wait_for(1, WAIT).await[0];
    assert_eq!(m.auth_user.as_deref(), Some("hvem"));
}

#[tokio::test]
async fn required_auth_refuses_wrong_or_missing_credentials() {
    let sink = SmtpSink::start().unwrap();
    sink.require_auth("mentor", "hemmelig");
    let with = |credentials: Option<(&str, &str)>, mechanism: Mechanism| {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.port())
            .authentication(vec![mechanism]);
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user.into(), password.into()));
        }
        builder.build()
    };

    let err = with(Some(("mentor", "feil")), Mechanism::Plain)
        .send(message(&["kari@example.no"], "Feil passord"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("535"));

    let err = with(Some(("mentor", "feil")), Mechanism::Login)
        .send(message(&["kari@example.no"], "Feil passord"))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("535"));

    let err = with(None, Mechanism::Plain)
        .send(message(&["kari@example.no"], "Uten innlogging"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("530"));
    assert!(sink.messages().is_empty());
    assert_eq!(sink.stats().auth_failures, 2);

    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        with(Some(("mentor", "hemmelig")), mechanism)
            .send(message(&["kari@example.no"], "Riktig"))
            .await
            .unwrap();
    }
    let messages = sink.wait_for(2, WAIT).await;
    assert!(
        messages
            .iter()
            .all(|m| m.auth_user.as_deref() == Some("mentor"))
    );

    sink.accept_any_auth();
    with(None, Mechanism::Plain)
        .send(message(&["kari@example.no"], "Åpent igjen"))
        .await
        .unwrap();
    sink.wait_for(3, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_all_deliver() {
    let sink = SmtpSink::start().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        // A transport each: a connection each.
        let transport = transport(&sink);
        tasks.spawn(async move {
            for j in 0..3 {
                transport
                    .send(message(&["kari@example.no"], &format!("{i}-{j}")))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let messages = sink.wait_for(24, WAIT).await;
    assert_eq!(messages.len(), 24);
    assert!(sink.stats().connections >= 8, "{:?}", sink.stats());
}

#[tokio::test]
async fn a_delay_slows_every_reply_down() {
    let sink = SmtpSink::start().unwrap();
    sink.faults().delay(Duration::from_millis(50));
    let started = std::time::Instant::now();
    transport(&sink)
        .send(message(&["kari@example.no"], "Sakte"))
        .await
        .unwrap();
    // Greeting, EHLO, MAIL, RCPT, DATA, end of data: at least six replies.
    assert!(started.elapsed() >= Duration::from_millis(300));

    // lettre's own timeout covers connecting only: a client that must not
    // hang on a slow server wraps the send in a timeout of its own.
    sink.faults().delay(Duration::from_secs(10));
    let stuck = tokio::time::timeout(
        Duration::from_millis(200),
        transport(&sink).send(message(&["kari@example.no"], "For sakte")),
    )
    .await;
    assert!(stuck.is_err(), "the send is still waiting for the greeting");
    sink.faults().reset();
}

#[test]
fn a_blocking_client_works_without_any_runtime() {
    let sink = SmtpSink::start().unwrap();
    let transport = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(sink.port())
        .build();
    transport
        .send(&message(&["kari@example.no"], "Blokkerende"))
        .unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject().as_deref(), Some("Blokkerende"));
    sink.clear();
    assert!(sink.messages().is_empty());
    assert_eq!(sink.stats().messages_accepted, 1);
}
