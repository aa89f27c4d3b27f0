//! Journey 5 (issue 16): the break-glass push with `serve` running pushes every selected mentor on
//! the first try, whatever state the server's relay left it in — waiting out a retry backoff, given
//! up (dead), or just refused on rotated credentials — and never reports success for a mentor it did
//! not push: that one makes the exit code 1 and is named by id, with its reason.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, World};

const COORDINATOR: &str = "coord@hlf.no";
const NEW_SECRET: &str = "rotated-in-a-hurry-5d1f";

async fn pause(world: &World, token: &str, id: &str) {
    let (status, body) = world
        .api(
            Method::POST,
            &format!("/api/v1/mentors/{id}/pause"),
            token,
            Some(json!({"reason": "Sykdom"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
}

async fn until_sync_state(world: &World, token: &str, id: &str, state: &str) {
    let path = format!("/api/v1/mentors/{id}");
    world
        .eventually(&format!("mentor {id} sync state {state}"), || async {
            world.get(&path, token).await["sync"]["state"] == state
        })
        .await;
}

/// `sync push --json` with the configured secret; the organisation's report.
fn push(world: &World, extra: &[&str]) -> (crate::support::Run, Value) {
    let mut args = vec!["--json", "sync", "push", "--org", "hlf"];
    args.extend_from_slice(extra);
    let run = world.run(&args);
    let report = run.json();
    (run, report)
}

pub async fn run(backend: Backend) {
    let mut world = World::new(backend).await;
    let kari = world.import_mentor("Kari Nordmann", "kari@hlf.no");
    let ola = world.import_mentor("Ola Nordmann", "ola@hlf.no");
    let per = world.import_mentor("Per Hansen", "per@hlf.no");
    let liv = world.import_mentor("Liv Berg", "liv@hlf.no");
    world.add_user(COORDINATOR, "coordinator", None);
    let token = world.token(COORDINATOR);
    world.serve().await;
    for contact in [kari, ola, per, liv] {
        world.until_listed(contact, true).await;
    }
    let kari_id = world.mentor_id("kari@hlf.no", &token).await;
    let ola_id = world.mentor_id("ola@hlf.no", &token).await;
    let per_id = world.mentor_id("per@hlf.no", &token).await;
    let liv_id = world.mentor_id("liv@hlf.no", &token).await;

    // 1. The server's relay hits a transient error and schedules a retry (seconds away); the portal
    //    recovers. The push (only mentors not in sync) does not wait for the backoff.
    world.sim.faults().fail_contact(kari, 503);
    pause(&world, &token, &kari_id).await;
    until_sync_state(&world, &token, &kari_id, "failed").await;
    world.sim.faults().clear_contact_failure(kari);
    let (run, report) = push(&world, &[]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let org = &report["orgs"][0];
    assert_eq!(
        (&org["selected"], &org["pushed"]),
        (&json!(1), &json!(1)),
        "{report}"
    );
    assert!(!world.listed(kari), "hidden on the first try");

    // 2. A permanent refusal makes the mentor dead; once fixed, the push takes it too.
    world.sim.faults().fail_contact(ola, 400);
    pause(&world, &token, &ola_id).await;
    until_sync_state(&world, &token, &ola_id, "dead").await;
    world.sim.faults().clear_contact_failure(ola);
    let (run, report) = push(&world, &["--mentor", &ola_id]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(report["orgs"][0]["pushed"], 1, "{report}");
    assert!(!world.listed(ola));
    until_sync_state(&world, &token, &ola_id, "in_sync").await;

    // 3. A mentor that still fails is not success: exit 1, named by id with its reason, never by
    //    name or address; the report is still printed whole.
    world.sim.faults().fail_contact(per, 400);
    pause(&world, &token, &per_id).await;
    until_sync_state(&world, &token, &per_id, "dead").await;
    let (run, report) = push(&world, &[]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let org = &report["orgs"][0];
    assert_eq!(
        (&org["selected"], &org["pushed"], &org["failed"]),
        (&json!(1), &json!(0), &json!(1)),
        "{report}"
    );
    assert_eq!(org["failures"][0]["mentor_id"], json!(per_id), "{report}");
    assert!(
        org["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("400"),
        "{report}"
    );
    assert!(run.stderr.contains(&per_id), "{run:#?}");
    for private in ["Per Hansen", "per@hlf.no"] {
        assert!(
            !run.stderr.contains(private) && !run.stdout.contains(private),
            "{run:#?}"
        );
    }
    assert!(world.listed(per), "still listed: the push said so");
    world.sim.faults().clear_contact_failure(per);

    // 4. The sequence: the secret is rotated, the check fails, a mentor is paused (the
    //    server's relay is refused and leaves it pending), and break-glass runs at once with the new
    //    secret: every linked mentor is pushed on the first try, nothing left uncounted.
    world.sim.rotate_secret(NEW_SECRET);
    let check = world.run(&["sync", "check-credentials", "--org", "hlf"]);
    assert_eq!(check.code, Some(1), "{check:#?}");
    pause(&world, &token, &liv_id).await;
    let push = world.run_with_stdin(
        &[
            "--json",
            "sync",
            "push",
            "--org",
            "hlf",
            "--all",
            "--client-secret-stdin",
        ],
        &format!("{NEW_SECRET}\n"),
    );
    assert_eq!(push.code, Some(0), "{push:#?}");
    assert!(!push.stdout.contains(NEW_SECRET) && !push.stderr.contains(NEW_SECRET));
    let org = push.json()["orgs"][0].clone();
    assert_eq!(
        (&org["selected"], &org["pushed"], &org["failed"]),
        (&json!(4), &json!(4), &json!(0)),
        "{org}"
    );
    for contact in [kari, ola, per, liv] {
        assert!(!world.listed(contact), "every paused mentor hidden");
    }
    until_sync_state(&world, &token, &liv_id, "in_sync").await;
}
