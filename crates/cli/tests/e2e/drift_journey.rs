//! Journey 4: the portal changes mentors behind our back — one active mentor hidden on the listing,
//! another's contact record deleted, a third hidden too — while `serve` runs → a coordinator forces a
//! sync of the first → the simulator is corrected within seconds and the mentor is in sync →
//! `sync reconcile` reports what it found (one drift, one missing record) in its output, the run log,
//! the sync status and the reconciliation log, and the relay corrects the remaining drifted mentor.
//! A second reconciliation finds no drift; the missing record stays a finding, never a retry loop.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dataverse_sim::WriteEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use uuid::Uuid;

use crate::harness::{Backend, ORG, VISIBILITY_FIELD, World};

const COORDINATOR: &str = "coord@hlf.no";
/// Hidden on the portal, then force-synced by the coordinator.
const FORCED: &str = "anna@hlf.no";
/// Their contact record deleted on the portal.
const DELETED: &str = "bjorn@hlf.no";
/// Hidden on the portal and left to the reconciliation.
const DRIFTED: &str = "dina@hlf.no";
/// Nobody touches them: listed throughout, never pushed again.
const BYSTANDER: &str = "ola@hlf.no";

/// The mentor as the API shows it.
async fn mentor(world: &World, id: &str, token: &str) -> Value {
    world.get(&format!("/api/v1/mentors/{id}"), token).await
}

/// Waits until the organisation has nothing waiting to be pushed.
async fn nothing_pending(world: &World, token: &str) {
    world
        .eventually("no sync row pending", || async {
            let status = world.get("/api/v1/sync/status", token).await;
            status["pending"] == 0 && status["retrying"] == 0 && status["dead"] == 0
        })
        .await;
}

/// Waits until a push of the mentor newer than `after` is confirmed, and it is in sync.
async fn confirmed_after(world: &World, id: &str, token: &str, after: &Value) {
    let what = format!("mentor {id} pushed again after {after} and in sync");
    world
        .eventually(&what, || async {
            let m = mentor(world, id, token).await;
            m["sync"]["state"] == "in_sync"
                && instant(&m["sync"]["pushed_at"]) > instant(after)
                && m["sync"]["last_error"].is_null()
        })
        .await;
}

/// An RFC 3339 instant of the API (`None` for null), compared as a time, not as text.
fn instant(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .map(|s| s.parse().expect("an RFC 3339 instant"))
}

/// Every PATCH the simulator applied since the receiver subscribed: contact → the columns it set.
fn writes(rx: &mut Receiver<WriteEvent>) -> Vec<(Uuid, Value)> {
    let mut seen = Vec::new();
    while let Ok(event) = rx.try_recv() {
        seen.push((event.contact_id, Value::Object(event.fields)));
    }
    seen
}

/// `sync reconcile --org ORG --json`: the organisation's run report.
fn reconcile(world: &World) -> Value {
    let report = world
        .run(&["--json", "sync", "reconcile", "--org", ORG])
        .success()
        .json();
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{report}");
    assert_eq!(runs[0]["org"], ORG, "{report}");
    assert_eq!(runs[0]["outcome"], "succeeded", "{report}");
    assert!(runs[0]["error"].is_null(), "{report}");
    runs[0].clone()
}

/// The reconciliation log, through the API: `kind key` per finding, of every run, sorted.
async fn findings(world: &World, token: &str) -> Vec<String> {
    let log = world.get("/api/v1/findings?limit=200", token).await;
    let mut lines: Vec<String> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["kind"].as_str().expect("a kind"),
                f["key"].as_str().expect("a key")
            )
        })
        .collect();
    lines.sort();
    lines
}

pub async fn run(backend: Backend) {
    let mut world = World::new(backend).await;
    let forced = world.import_mentor("Anna Berg", FORCED);
    let deleted = world.import_mentor("Bjørn Dahl", DELETED);
    let drifted = world.import_mentor("Dina Eide", DRIFTED);
    let bystander = world.import_mentor("Ola Nordmann", BYSTANDER);
    world.add_user(COORDINATOR, "coordinator", None);
    let coordinator = world.token(COORDINATOR);
    world.serve().await;

    // The import queued every mentor: the relay lists them, and each push is confirmed.
    for contact in [forced, deleted, drifted, bystander] {
        world.until_listed(contact, true).await;
    }
    nothing_pending(&world, &coordinator).await;
    let mut ids = BTreeMap::new();
    let mut pushed_at = BTreeMap::new();
    for email in [FORCED, DELETED, DRIFTED, BYSTANDER] {
        let id = world.mentor_id(email, &coordinator).await;
        let m = mentor(&world, &id, &coordinator).await;
        assert_eq!(m["status"], "active", "{m}");
        assert_eq!(m["sync"]["state"], "in_sync", "{m}");
        pushed_at.insert(email, m["sync"]["pushed_at"].clone());
        ids.insert(email, id);
    }

    // 1. Behind our back: two active mentors hidden on the portal, one contact record deleted.
    let mut portal_writes = world.sim.writes();
    world.sim.set_field(forced, VISIBILITY_FIELD, json!(false));
    world.sim.set_field(drifted, VISIBILITY_FIELD, json!(false));
    world.sim.remove_contact(deleted);
    assert!(!world.listed(forced) && !world.listed(drifted));
    assert!(world.sim.contact(deleted).is_none());

    // 2. The coordinator forces a sync of the first: queued, and the listing shows them again
    //    within seconds, the push confirmed (in sync, pushed after the first push).
    let path = format!("/api/v1/mentors/{}/sync", ids[FORCED]);
    let (status, queued) = world.api(Method::POST, &path, &coordinator, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["queued"], 1, "{queued}");
    let corrected_after = world.until_listed(forced, true).await;
    confirmed_after(&world, &ids[FORCED], &coordinator, &pushed_at[FORCED]).await;
    nothing_pending(&world, &coordinator).await;
    // Only the mentor asked for was pushed: the others still drift, unnoticed.
    assert_eq!(
        writes(&mut portal_writes),
        [(forced, json!({VISIBILITY_FIELD: true}))]
    );
    assert!(!world.listed(drifted));
    assert!(world.sim.contact(deleted).is_none());

    // 3. The nightly listing sync, now: nothing behind, four mentors compared, the one still
    //    hidden is drift (re-queued), the deleted record is missing (a finding, not re-queued).
    let report = reconcile(&world);
    let counts = &report["counts"];
    assert_eq!(counts["queued"], 0, "{report}");
    assert_eq!(counts["checked"], 4, "{report}");
    assert_eq!(counts["drift"], 1, "{report}");
    assert_eq!(counts["missing_records"], 1, "{report}");
    assert_eq!(counts["findings"], 2, "{report}");
    let run_id = report["run_id"].clone();

    // The relay corrects the drifted mentor within seconds; nothing else is pushed.
    let drift_fixed_after = world.until_listed(drifted, true).await;
    confirmed_after(&world, &ids[DRIFTED], &coordinator, &pushed_at[DRIFTED]).await;
    nothing_pending(&world, &coordinator).await;
    assert_eq!(
        writes(&mut portal_writes),
        [(drifted, json!({VISIBILITY_FIELD: true}))]
    );
    assert!(world.sim.contact(deleted).is_none(), "never recreated");
    assert!(world.listed(forced) && world.listed(bystander));

    // What it found: in the run log, the sync status and the reconciliation log.
    let runs = world.get("/api/v1/runs?limit=200", &coordinator).await;
    let syncs: Vec<&Value> = runs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["job"] == "listing_sync")
        .collect();
    assert_eq!(syncs.len(), 1, "{runs}");
    assert_eq!(syncs[0]["id"], run_id, "{runs}");
    assert_eq!(syncs[0]["outcome"], "succeeded", "{runs}");
    assert_eq!(syncs[0]["trigger"], "manual", "{runs}");
    assert_eq!(&syncs[0]["counts"], counts, "{runs}");
    let status = world.get("/api/v1/sync/status", &coordinator).await;
    assert_eq!(status["drift"]["run_id"], run_id, "{status}");
    assert_eq!(status["drift"]["checked"], 4, "{status}");
    assert_eq!(status["drift"]["drift"], 1, "{status}");
    assert_eq!(status["drift"]["missing_records"], 1, "{status}");
    let drift_finding = format!("listing_drift {VISIBILITY_FIELD}=false (want true)");
    let missing_finding = format!("record_missing id:{deleted}");
    let mut expected = vec![drift_finding.clone(), missing_finding.clone()];
    expected.sort();
    assert_eq!(findings(&world, &coordinator).await, expected);

    // 4. Again: no drift left; the deleted record is still missing and reported again.
    let again = reconcile(&world);
    let counts = &again["counts"];
    assert_eq!(counts["queued"], 0, "{again}");
    assert_eq!(counts["checked"], 4, "{again}");
    assert_eq!(counts["drift"], 0, "{again}");
    assert_eq!(counts["missing_records"], 1, "{again}");
    assert_eq!(counts["findings"], 1, "{again}");
    let mut expected = vec![drift_finding, missing_finding.clone(), missing_finding];
    expected.sort();
    assert_eq!(findings(&world, &coordinator).await, expected);
    nothing_pending(&world, &coordinator).await;
    assert!(writes(&mut portal_writes).is_empty(), "nothing pushed");
    let m = mentor(&world, &ids[BYSTANDER], &coordinator).await;
    assert_eq!(m["sync"]["pushed_at"], pushed_at[BYSTANDER], "{m}");
    let runs = world.get("/api/v1/runs?limit=200", &coordinator).await;
    let syncs = runs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["job"] == "listing_sync")
        .count();
    assert_eq!(syncs, 2, "{runs}");
    eprintln!(
        "{backend:?}: forced sync corrected after {corrected_after:?}, \
         reconciled drift corrected after {drift_fixed_after:?}"
    );
}
