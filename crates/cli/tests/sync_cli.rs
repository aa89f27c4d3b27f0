//! `mentor-status sync …` and the relay inside `serve`, run as an operator runs them: the real binary
//! against its own PostgreSQL database and a Dataverse simulator over HTTP.

mod support;

use std::process::Stdio;
use std::time::Duration;

use dataverse_sim::{SimConfig, Simulator};
use serde_json::json;
use support::{Run, Server, Setup, free_port, get_json};
use uuid::Uuid;

const OLD_SECRET: &str = "sim-secret";
const NEW_SECRET: &str = "rotated-secret-4b1d";
const SECRET_ENV: &str = "MENTOR_STATUS__ORGS__HLF__DYNAMICS__CLIENT_SECRET";

/// The organisation, three mentors linked to contacts in the simulator, and the integration's
/// configuration file. Returns the contact ids.
async fn prepare(setup: &Setup, sim: &Simulator) -> Vec<Uuid> {
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    let contacts: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let mut csv = String::from(
        "full_name,email,dynamics_contact_id,certification_issued_on,certification_expires_on\n",
    );
    for (n, contact) in contacts.iter().enumerate() {
        sim.insert_contact(
            *contact,
            json!({"contactid": contact.to_string(), "hlf_showonwebsite": false})
                .as_object()
                .cloned()
                .unwrap(),
        );
        csv.push_str(&format!(
            "Mentor {n},m{n}@hlf.no,{contact},2026-01-01,2090-01-01\n"
        ));
    }
    let file = setup.write("mentors.csv", &csv);
    setup
        .run(&["import", "mentors", &file, "--org", "hlf"])
        .success();
    setup.write(
        "mentor-status.toml",
        &format!(
            "[sync]\npoll_seconds = 1\ncredential_check_minutes = 1\n\n\
             [orgs.hlf.dynamics]\napi_base_url = \"{}\"\ntoken_url = \"{}\"\n\
             client_id = \"sim-client\"\nscope = \"{}\"\nvisibility_field = \"hlf_showonwebsite\"\n",
            sim.base_url(),
            sim.token_url(),
            sim.scope()
        ),
    );
    contacts
}

fn visible(sim: &Simulator, contact: Uuid) -> serde_json::Value {
    sim.contact(contact).unwrap()["hlf_showonwebsite"].clone()
}

/// The command with the configured (old) client secret in its environment.
fn run_with_old_secret(setup: &Setup, args: &[&str]) -> Run {
    Run::of(
        setup
            .command(args)
            .env(SECRET_ENV, OLD_SECRET)
            .output()
            .expect("run mentor-status"),
    )
}

fn no_secret_in(run: &Run) {
    for secret in [OLD_SECRET, NEW_SECRET] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {run:?}"
        );
    }
}

/// Multi-threaded: the simulator keeps serving while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_push_with_a_new_secret_from_stdin_converges_and_the_alert_waits_for_the_configuration()
 {
    let setup = Setup::new().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let contacts = prepare(&setup, &sim).await;
    sim.rotate_secret(NEW_SECRET);

    // The configured (old) secret is refused: exit 1, one open alert.
    let check = run_with_old_secret(&setup, &["sync", "check-credentials"])
        .fails_with(1, &["credential check failed", "invalid_client"]);
    no_secret_in(&check);
    let open =
        "SELECT count(*) FROM alerts WHERE kind = 'sync_credentials' AND resolved_at IS NULL";
    assert_eq!(setup.scalar(open).await, 1);

    // Break-glass: the new secret on standard input, every linked mentor pushed, a summary.
    let mut command = setup.command(&[
        "--json",
        "sync",
        "push",
        "--org",
        "hlf",
        "--all",
        "--client-secret-stdin",
    ]);
    command.env(SECRET_ENV, OLD_SECRET);
    let push = Run::with_stdin(command, &format!("{NEW_SECRET}\n")).success();
    no_secret_in(&push);
    let report = push.json();
    assert_eq!(report["orgs"][0]["pushed"], 3, "{report}");
    assert_eq!(report["orgs"][0]["credentials_refused"], false);
    for contact in &contacts {
        assert_eq!(visible(&sim, *contact), json!(true));
    }
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM sync_outbox WHERE state <> 'done'")
            .await,
        0
    );
    // The servers still hold the old secret: the alert stays open until the configuration has the
    // new one, and the first check with it resolves the alert.
    assert_eq!(setup.scalar(open).await, 1, "the alert is still open");
    setup
        .command(&["sync", "check-credentials"])
        .env(SECRET_ENV, NEW_SECRET)
        .output()
        .map(Run::of)
        .unwrap()
        .success();
    assert_eq!(setup.scalar(open).await, 0, "the alert resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_cannot_reach_every_mentor_exits_1_naming_the_failures() {
    let setup = Setup::new().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let contacts = prepare(&setup, &sim).await;
    sim.remove_contact(contacts[1]);
    run_with_old_secret(&setup, &["sync", "push", "--all"]).fails_with(
        1,
        &["did not reach every mentor", "hlf: 1 mentor(s) failed"],
    );
    assert_eq!(visible(&sim, contacts[0]), json!(true));
    assert_eq!(visible(&sim, contacts[2]), json!(true));

    // Reconciliation reports the missing record.
    let reconcile = run_with_old_secret(&setup, &["--json", "sync", "reconcile"]).success();
    assert_eq!(reconcile.json()["runs"][0]["counts"]["missing_records"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_command_without_an_integration_or_secret_is_a_usage_error() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    setup
        .run(&["sync", "push"])
        .fails_with(2, &["no Dynamics integration is configured"]);
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    prepare(&setup, &sim).await;
    setup
        .run(&["sync", "check-credentials"])
        .fails_with(2, &[SECRET_ENV]);
    setup.write(
        "mentor-status.toml",
        "[orgs.hlf.dynamics]\napi_base_url = \"http://x\"\ntoken_url = \"http://x\"\n\
         client_id = \"c\"\nscope = \"s\"\nvisibility_field = \"v\"\nclient_secret = \"oops\"\n",
    );
    setup.run(&["sync", "check-credentials"]).fails_with(
        2,
        &[
            "secrets are not read from the configuration file",
            SECRET_ENV,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_pushes_a_pause_to_dynamics_within_seconds() {
    let setup = Setup::new().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let contacts = prepare(&setup, &sim).await;
    let token = setup.login("hlf", "k@hlf.no", "coordinator");
    let port = free_port();
    let log = setup.dir.path().join("serve.log");
    let server = Server(
        setup
            .command(&["serve"])
            .env(SECRET_ENV, OLD_SECRET)
            .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("MENTOR_STATUS__SCHEDULER__ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    // The import queued every mentor: the relay lists them all without any nightly job.
    let server = std::cell::RefCell::new(server);
    testkit::poll_until_watching(
        "every imported mentor listed",
        Duration::from_secs(20),
        || async { contacts.iter().all(|c| visible(&sim, *c) == json!(true)) },
        || {
            server
                .borrow_mut()
                .0
                .try_wait()
                .unwrap()
                .map(|status| format!("serve exited with {status}"))
        },
        || std::fs::read_to_string(&log).unwrap_or_default(),
    )
    .await;
    let _server = server.into_inner();
    let mentors: serde_json::Value =
        get_json(&client, format!("{base}/api/v1/mentors?limit=10"), &token).await;
    let first = mentors["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["dynamics_contact_id"] == json!(contacts[0].to_string()))
        .unwrap()
        .clone();
    let first_url = format!("{base}/api/v1/mentors/{}", first["id"].as_str().unwrap());
    // The relay records a push just after the simulator has it.
    testkit::poll_until(
        "the first mentor recorded as in sync",
        Duration::from_secs(5),
        || async {
            get_json(&client, first_url.clone(), &token).await["sync"]["state"] == "in_sync"
        },
    )
    .await;
    let reply = client
        .post(format!(
            "{base}/api/v1/mentors/{}/pause",
            first["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({"reason": "ferie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    testkit::poll_until(
        "the pause reaches Dynamics",
        Duration::from_secs(5),
        || async { visible(&sim, contacts[0]) == json!(false) },
    )
    .await;
    let status: serde_json::Value =
        get_json(&client, format!("{base}/api/v1/sync/status"), &token).await;
    assert_eq!(status["enabled"], true);
    assert!(
        status["last_credential_check"]["ok"].as_bool().unwrap(),
        "{status}"
    );
}
