//! Debug logs say what was requested, never with which credentials.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use dataverse_sim::SimConfig;
use mentor_status_dataverse::RecordKey;
use secrecy::SecretString;
use tracing_subscriber::fmt::MakeWriter;

use crate::{ENTITY_SET, client_for, hide, insert_contact, start_default};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn debug_logs_name_requests_but_never_secrets_or_tokens() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    // The test runtime is single-threaded, so the thread-local default sees every event.
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start_default().await;
    let client = client_for(&sim);
    let id = insert_contact(&sim, "1");
    client
        .update(ENTITY_SET, &RecordKey::Id(id), &hide())
        .await
        .expect("update");
    sim.rotate_secret("another-secret");
    client.who_am_i().await.expect_err("old secret refused");
    client.set_client_secret(SecretString::from("another-secret"));
    client.who_am_i().await.expect("new secret works");

    let text = logs.text();
    assert!(text.contains("PATCH"), "{text}");
    assert!(
        text.contains(&format!("/api/data/v9.2/contacts({id})")),
        "{text}"
    );
    assert!(text.contains("status=204"), "{text}");
    for secret in [
        SimConfig::default().client_secret.as_str(),
        "another-secret",
    ] {
        assert!(!text.contains(secret), "secret in the logs:\n{text}");
    }
    // A `WWW-Authenticate: Bearer authorization_uri=…` challenge may be quoted; a token may not.
    let bearer_tokens = text
        .match_indices("Bearer ")
        .filter(|(at, _)| !text[at + "Bearer ".len()..].starts_with("authorization_uri"))
        .count();
    assert_eq!(bearer_tokens, 0, "token in the logs:\n{text}");
}
