//! Journey 3: the client secret is rotated on the portal side without notice → the next scheduled
//! credential check opens one alert, delivered once to the operations webhook → changes keep
//! queueing, nothing is lost → a break-glass push with the new secret gets the listing right → the
//! alert stays open (the server still has the old secret) until the configuration has the new one,
//! then resolves once → pushing works again.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::harness::{Backend, World};

const COORDINATOR: &str = "coord@hlf.no";
const NEW_SECRET: &str = "rotated-without-notice-9c2e";
const CREDENTIALS_ALERT: &str = "sync_credentials";

/// Waits until `count` more scheduled credential checks than `seen` have been refused, as the sync
/// status reports them (each check records its time); returns the times seen so far.
async fn refused_checks(
    world: &World,
    token: &str,
    seen: BTreeSet<String>,
    count: usize,
) -> BTreeSet<String> {
    let wanted = seen.len() + count;
    let seen = std::cell::RefCell::new(seen);
    world
        .eventually(
            &format!("{count} more refused credential checks"),
            || async {
                let status = world.get("/api/v1/sync/status", token).await;
                let check = &status["last_credential_check"];
                let mut seen = seen.borrow_mut();
                if check["ok"] == false {
                    seen.insert(check["checked_at"].as_str().expect("checked_at").to_owned());
                }
                seen.len() >= wanted
            },
        )
        .await;
    seen.into_inner()
}

/// The organisation's open alerts of `kind`, through the API.
async fn open_alerts(world: &World, token: &str, kind: &str) -> Vec<Value> {
    let alerts = world.get("/api/v1/alerts?open=true", token).await;
    alerts["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|a| a["kind"] == kind)
        .cloned()
        .collect()
}

pub async fn run(backend: Backend) {
    let mut world = World::new(backend).await;
    let kari = world.import_mentor("Kari Nordmann", "kari@hlf.no");
    let ola = world.import_mentor("Ola Nordmann", "ola@hlf.no");
    let per = world.import_mentor("Per Hansen", "per@hlf.no");
    world.add_user(COORDINATOR, "coordinator", None);
    let coordinator = world.token(COORDINATOR);
    world.serve().await;
    for contact in [kari, ola, per] {
        world.until_listed(contact, true).await;
    }

    // 1. The portal's administrators rotate the secret. The next scheduled check (every 3 s here)
    //    is refused: one alert, posted once to the webhook.
    world.sim.rotate_secret(NEW_SECRET);
    world
        .eventually("the credentials alert reaches the webhook", || async {
            world
                .hooks
                .events()
                .contains(&("opened".to_owned(), CREDENTIALS_ALERT.to_owned()))
        })
        .await;
    assert_eq!(
        open_alerts(&world, &coordinator, CREDENTIALS_ALERT)
            .await
            .len(),
        1
    );

    // 2. Coordinators keep working: the changes are accepted and queue, the listing stays as it was.
    let kari_id = world.mentor_id("kari@hlf.no", &coordinator).await;
    let ola_id = world.mentor_id("ola@hlf.no", &coordinator).await;
    for id in [&kari_id, &ola_id] {
        let (status, body) = world
            .api(
                Method::POST,
                &format!("/api/v1/mentors/{id}/pause"),
                &coordinator,
                Some(serde_json::json!({"reason": "Sykdom"})),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    }
    world
        .eventually("both changes wait in the outbox", || async {
            world.get("/api/v1/sync/status", &coordinator).await["pending"] == 2
        })
        .await;
    // Several refused checks later, nothing went out and the alert is still the one alert.
    let refused = refused_checks(&world, &coordinator, BTreeSet::new(), 3).await;
    assert!(world.listed(kari) && world.listed(ola), "nothing pushed");
    assert_eq!(
        world.hooks.events(),
        vec![("opened".to_owned(), CREDENTIALS_ALERT.to_owned())],
        "one post for one alert, however many checks failed"
    );

    // 3. Break-glass: the operator pushes with the new secret on standard input.
    let push = world.run_with_stdin(
        &[
            "--json",
            "sync",
            "push",
            "--org",
            "hlf",
            "--client-secret-stdin",
        ],
        &format!("{NEW_SECRET}\n"),
    );
    assert_eq!(push.code, Some(0), "{push:#?}");
    assert!(
        !push.stdout.contains(NEW_SECRET) && !push.stderr.contains(NEW_SECRET),
        "the secret is never printed"
    );
    let report = push.json();
    assert_eq!(report["orgs"][0]["pushed"], 2, "{report}");
    assert!(!world.listed(kari) && !world.listed(ola), "both hidden");
    assert!(world.listed(per), "the untouched mentor stays listed");
    assert_eq!(
        world.get("/api/v1/sync/status", &coordinator).await["pending"],
        0
    );

    // 4. The server still runs with the old secret: its next checks are refused, the alert stays
    //    open and is not posted again.
    refused_checks(&world, &coordinator, refused, 2).await;
    assert_eq!(
        open_alerts(&world, &coordinator, CREDENTIALS_ALERT)
            .await
            .len(),
        1,
        "break-glass proves the new secret, not the configuration"
    );
    assert_eq!(
        world.hooks.events(),
        vec![("opened".to_owned(), CREDENTIALS_ALERT.to_owned())],
        "still one post for the one alert"
    );

    // 5. The operator puts the new secret into the configuration and restarts: the first check
    //    resolves the alert, posted once.
    world.restart_with_secret(NEW_SECRET).await;
    world
        .eventually("the resolution reaches the webhook", || async {
            world
                .hooks
                .events()
                .contains(&("resolved".to_owned(), CREDENTIALS_ALERT.to_owned()))
        })
        .await;
    assert!(
        open_alerts(&world, &coordinator, CREDENTIALS_ALERT)
            .await
            .is_empty()
    );

    // 6. Pushing works again on its own.
    let (status, body) = world
        .api(
            Method::POST,
            &format!("/api/v1/mentors/{kari_id}/resume"),
            &coordinator,
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    world.until_listed(kari, true).await;
    world.webhooks_settled().await;
    assert_eq!(
        world.hooks.events(),
        vec![
            ("opened".to_owned(), CREDENTIALS_ALERT.to_owned()),
            ("resolved".to_owned(), CREDENTIALS_ALERT.to_owned()),
        ],
        "the alert's story, each event once"
    );
    assert!(
        !world.server_log().contains(NEW_SECRET),
        "the secret is never logged"
    );
}
