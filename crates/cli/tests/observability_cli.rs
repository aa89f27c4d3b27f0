//! What operators see of a running `mentor-status serve`: the Prometheus series after a nightly run,
//! pushes to a Dataverse simulator and a delivery pass, scraped over HTTP; and JSON log lines that
//! carry the request id the response names.

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use dataverse_sim::{RateLimit, SimConfig, Simulator};
use serde_json::{Value, json};
use smtp_sink::SmtpSink;
use support::{Server, Setup, free_port};
use uuid::Uuid;

const SECRET_ENV: &str = "MENTOR_STATUS__ORGS__HLF__DYNAMICS__CLIENT_SECRET";

/// The value of the series written exactly as `series` (name and labels), if present.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A webhook receiver answering 204; counts the posts.
async fn start_webhook_receiver() -> (String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, posts)
}

/// The organisation `hlf` with email on and a coordinator, and three mentors linked to contacts of
/// the simulator: `m0` (certification ends in 10 days: a reminder), `m1` (active with a lapsed
/// certification: the nightly run expires it) and `m2` (its contact is missing: a dead letter and
/// an alert). Returns the contact ids and the coordinator's token.
async fn prepare(setup: &Setup, sim: &Simulator) -> (Vec<Uuid>, String) {
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    let in_ten_days = Utc::now().date_naive() + chrono::Duration::days(10);
    let contacts: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let mut csv = String::from(
        "full_name,email,dynamics_contact_id,certification_issued_on,certification_expires_on\n",
    );
    for (n, contact) in contacts.iter().enumerate() {
        if n != 2 {
            sim.insert_contact(
                *contact,
                json!({"contactid": contact.to_string(), "hlf_showonwebsite": false})
                    .as_object()
                    .cloned()
                    .unwrap(),
            );
        }
        let expires = if n == 0 {
            in_ten_days.to_string()
        } else {
            "2090-01-01".to_owned()
        };
        csv.push_str(&format!(
            "Mentor {n},m{n}@hlf.no,{contact},2025-01-01,{expires}\n"
        ));
    }
    let file = setup.write("mentors.csv", &csv);
    setup
        .run(&["import", "mentors", &file, "--org", "hlf"])
        .success();
    let mut sql = setup.sql().await;
    for statement in [
        // m1's certification lapsed two days ago while it stayed active.
        "UPDATE certifications SET expires_on = current_date - 2 \
         WHERE mentor_id = (SELECT id FROM mentors WHERE email = 'm1@hlf.no')",
        "UPDATE organisations SET settings = settings || '{\"email_enabled\": true}'::jsonb",
    ] {
        sqlx::query(statement).execute(&mut sql).await.unwrap();
    }
    let token = setup.login("hlf", "coord@hlf.no", "coordinator");
    (contacts, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_run_the_pushes_and_the_deliveries_of_a_serving_process() {
    let setup = Setup::new().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let sink = SmtpSink::start().unwrap();
    let (webhook_url, webhook_posts) = start_webhook_receiver().await;
    let (contacts, token) = prepare(&setup, &sim).await;
    setup.write(
        "mentor-status.toml",
        &format!(
            "[expiry]\nrun_at = \"00:00\"\n\n[scheduler]\ntick_seconds = 1\n\n\
             [sync]\npoll_seconds = 1\ncredential_check_minutes = 1\n\n\
             [smtp]\nurl = \"{}\"\nfrom = \"Likeperson <noreply@hlf.no>\"\n\n\
             [alerts]\nwebhook_url = \"{webhook_url}\"\ntick_seconds = 1\n\n\
             [delivery]\npoll_seconds = 1\n\n\
             [orgs.hlf.dynamics]\napi_base_url = \"{}\"\ntoken_url = \"{}\"\n\
             client_id = \"sim-client\"\nscope = \"{}\"\nvisibility_field = \"hlf_showonwebsite\"\n",
            sink.url(),
            sim.base_url(),
            sim.token_url(),
            sim.scope()
        ),
    );
    let port = free_port();
    let log = setup.dir.path().join("serve.log");
    let mut server = Server(
        setup
            .command(&["serve"])
            .env(SECRET_ENV, "sim-secret")
            .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let scrape = || async {
        match client.get(format!("{base}/metrics")).send().await {
            Ok(reply) if reply.status() == 200 => reply.text().await.unwrap_or_default(),
            _ => String::new(),
        }
    };

    // The nightly run, the nightly listing sync, the relay's pushes, the emails and the alert's
    // webhook post all happen on their own within seconds.
    let expected = [
        (
            r#"mentor_status_runs_total{job="expiry",outcome="succeeded"}"#,
            1.0,
        ),
        (
            r#"mentor_status_run_duration_seconds_count{job="expiry",outcome="succeeded"}"#,
            1.0,
        ),
        (
            r#"mentor_status_runs_total{job="listing_sync",outcome="succeeded"}"#,
            1.0,
        ),
        (r#"mentor_status_reminders_total{outcome="sent"}"#, 1.0),
        (r#"mentor_status_reminders_total{outcome="skipped"}"#, 1.0),
        (
            r#"mentor_status_transitions_total{action="expire",to="certification_expired",actor="system"}"#,
            1.0,
        ),
        (
            r#"mentor_status_sync_pushes_total{org="hlf",outcome="pushed"}"#,
            2.0,
        ),
        (
            r#"mentor_status_sync_pushes_total{org="hlf",outcome="not_found"}"#,
            1.0,
        ),
        (
            r#"mentor_status_sync_push_lag_seconds_count{org="hlf"}"#,
            2.0,
        ),
        (r#"mentor_status_sync_outbox_dead{org="hlf"}"#, 1.0),
        // The reminder to m0 and the expiry notice to m1 (and the coordinator's digest).
        (r#"mentor_status_emails_total{outcome="sent"}"#, 2.0),
        (
            r#"mentor_status_webhook_posts_total{outcome="delivered"}"#,
            1.0,
        ),
        (
            r#"mentor_status_alerts_open{kind="sync_record_not_found",severity="warning"}"#,
            1.0,
        ),
        (r#"mentor_status_sync_credentials_ok{org="hlf"}"#, 1.0),
    ];
    let missing = |text: &str| -> Vec<&str> {
        expected
            .iter()
            .filter(|(series, minimum)| !sample(text, series).is_some_and(|v| v >= *minimum))
            .map(|(series, _)| *series)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while !missing(&text).is_empty() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("serve exited with {status}: {}", log_text());
        }
        assert!(
            Instant::now() < deadline,
            "series missing after 30 s: {:?}\n{text}\n{}",
            missing(&text),
            log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = scrape().await;
    }
    let value = |series: &str| {
        sample(&text, series).unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
    };
    // Plausible values: the reminder of m0 (14 days sent, 30 days skipped), m1 expired, two
    // contacts pushed and one missing, confirmations within a minute of their commit.
    assert_eq!(
        value(r#"mentor_status_reminders_total{outcome="sent"}"#),
        1.0
    );
    assert_eq!(
        value(r#"mentor_status_reminders_total{outcome="skipped"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"mentor_status_transitions_total{action="expire",to="certification_expired",actor="system"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"mentor_status_runs_total{job="expiry",outcome="failed"}"#),
        0.0
    );
    let lag_count = value(r#"mentor_status_sync_push_lag_seconds_count{org="hlf"}"#);
    let lag_sum = value(r#"mentor_status_sync_push_lag_seconds_sum{org="hlf"}"#);
    assert!(
        lag_sum >= 0.0 && lag_sum / lag_count < 60.0,
        "mean lag {lag_sum}/{lag_count}"
    );
    assert!(
        text.contains(r#"mentor_status_sync_push_lag_seconds_bucket{org="hlf",le="0.005"}"#),
        "the lag histogram has its buckets"
    );
    let run_seconds =
        value(r#"mentor_status_run_duration_seconds_sum{job="expiry",outcome="succeeded"}"#);
    assert!(run_seconds > 0.0 && run_seconds < 30.0, "{run_seconds}");
    assert_eq!(
        value(r#"mentor_status_sync_credentials_ok{org="hlf"}"#),
        1.0
    );
    assert_eq!(
        value(r#"mentor_status_alerts_open{kind="sync_record_not_found",severity="warning"}"#),
        1.0
    );
    assert!(webhook_posts.load(Ordering::SeqCst) >= 1);
    assert!(!sink.messages().is_empty());
    for series in [
        r#"mentor_status_sync_outbox_pending{org="hlf"}"#,
        r#"mentor_status_sync_outbox_dead{org="hlf"}"#,
        r#"mentor_status_sync_outbox_oldest_pending_age_seconds{org="hlf"}"#,
        r#"mentor_status_sync_retrying_mentors{org="hlf"}"#,
        r#"mentor_status_sync_throttled_total{org="hlf"}"#,
        r#"mentor_status_sync_credential_failures_total{org="hlf",status="401"}"#,
        r#"mentor_status_sync_drift_total{org="hlf"}"#,
        r#"mentor_status_sync_missing_records_total{org="hlf"}"#,
        "mentor_status_email_queue_pending",
        "mentor_status_email_queue_dead",
        "mentor_status_email_queue_oldest_pending_age_seconds",
        "mentor_status_webhook_queue_pending",
        "mentor_status_webhook_queue_oldest_pending_age_seconds",
    ] {
        assert!(sample(&text, series).is_some(), "no {series} in:\n{text}");
    }

    // A 429: the simulator lets one request through per two seconds; pause and resume a listed
    // mentor back to back, and the second push is throttled, waits out Retry-After, and lands.
    let mentors: Value =
        support::get_json(&client, format!("{base}/api/v1/mentors?limit=10"), &token).await;
    let m0 = mentors["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "m0@hlf.no")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visible = |contact| sim.contact(contact).unwrap()["hlf_showonwebsite"].clone();
    assert_eq!(visible(contacts[0]), json!(true));
    sim.faults().set_rate_limit(Some(RateLimit {
        requests: 1,
        window: Duration::from_secs(2),
    }));
    for (action, listed) in [("pause", false), ("resume", true)] {
        let reply = client
            .post(format!("{base}/api/v1/mentors/{m0}/{action}"))
            .bearer_auth(&token)
            .json(&json!({"reason": "ferie"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{action}");
        if listed {
            break;
        }
        let waited = Instant::now();
        while visible(contacts[0]) != json!(listed) {
            assert!(waited.elapsed() < Duration::from_secs(10), "{}", log_text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let waited = Instant::now();
    while visible(contacts[0]) != json!(true) {
        assert!(waited.elapsed() < Duration::from_secs(15), "{}", log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = scrape().await;
    assert!(
        sample(&text, r#"mentor_status_sync_throttled_total{org="hlf"}"#).is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"mentor_status_transitions_total{action="resume",to="active",actor="user"}"#
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert!(
        sample(
            &text,
            r#"mentor_status_http_requests_total{method="POST",route="/api/v1/mentors/{id}/pause",status="200"}"#
        )
        .is_some_and(|v| v >= 1.0)
    );
    // No mentor id or address in any label.
    for contact in &contacts {
        assert!(!text.contains(&contact.to_string()));
    }
    assert!(!text.contains(&m0) && !text.contains("@hlf.no"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_of_a_request_carry_the_request_id_of_its_response() {
    let setup = Setup::sqlite();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    let token = setup.login("hlf", "coord@hlf.no", "coordinator");
    let port = free_port();
    let log = setup.dir.path().join("serve.log");
    let server = Server(
        setup
            .command(&["--log-format", "json", "serve"])
            .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("MENTOR_STATUS__SCHEDULER__ENABLED", "false")
            // The access log (tower_http) is at debug level.
            .env("MENTOR_STATUS__LOG__LEVEL", "info,tower_http=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let minted = loop {
        match client
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(reply) => break reply,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("serve did not answer: {e}"),
        }
    };
    assert_eq!(minted.status(), 200);
    let minted_id = minted.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(minted_id.parse::<Uuid>().is_ok(), "{minted_id}");
    let given = client
        .get(format!("{base}/api/v1/me"))
        .header("x-request-id", "edge-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(given.status(), 401);
    assert_eq!(given.headers()["x-request-id"], "edge-4711");
    // Stop the server (SIGKILL; what it wrote is in the file) and read its log.
    drop(server);

    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    for id in [minted_id.as_str(), "edge-4711"] {
        let of_request: Vec<&Value> = lines
            .iter()
            .filter(|line| line["span"]["request_id"] == id)
            .collect();
        assert!(
            of_request.len() >= 2,
            "the request's log lines (started, finished) carry its id {id}: {lines:#?}"
        );
        for line in of_request {
            assert_eq!(line["span"]["route"], "/api/v1/me");
            assert_eq!(line["span"]["method"], "GET");
        }
    }
    let finished = lines
        .iter()
        .find(|line| {
            line["span"]["request_id"] == "edge-4711"
                && line["fields"]["message"] == "finished processing request"
        })
        .expect("the finished line");
    assert_eq!(finished["fields"]["status"], 401);
}
