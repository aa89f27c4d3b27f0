//! The independent API fuzzer schemathesis against the served OpenAPI document: every operation with
//! generated valid and invalid requests, as a coordinator and as an admin, on PostgreSQL (the
//! production backend). Passes when schemathesis finds no 5xx and no response that contradicts the
//! document (`--checks all`).
//!
//! schemathesis is installed from PyPI into a virtualenv under the target directory when it is not
//! there yet (`python3 -m venv`, `pip install schemathesis==VERSION`); without the registry the test
//! fails and says so. Run it alone with `cargo test -p mentor-status-web --test fuzz -- --nocapture`.

extern crate mentor_status_web as web;

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use store::prelude::*;

use std::sync::Arc;

use domain::{CertificationPeriod, Clock, Email, FullName, MentorId, MentorStatus, Phone};
use store::{Actor, NewCertification, NewMentor};
use testkit::{Postgres, Sqlite, TestBackend};

use helpers::{TestApp, date, spawn_app};

/// The version whose behaviour this test was written against; bump deliberately.
const SCHEMATHESIS: &str = "4.32.5";
/// Test cases per operation and phase, and the seed that makes the run repeatable; the environment
/// variables `MENTOR_STATUS_FUZZ_EXAMPLES` and `MENTOR_STATUS_FUZZ_SEED` override them (to look
/// further, or elsewhere).
const MAX_EXAMPLES: &str = "50";
const SEED: &str = "20260615";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_nothing_the_document_does_not_allow() {
    let started = Instant::now();
    let schemathesis = install_schemathesis();
    let reports = target_dir().join("schemathesis").join("reports");
    // The document under test, kept beside the reports for reading them.
    let (openapi, _) = web::api_description::<<Postgres as TestBackend>::Store>();
    std::fs::create_dir_all(&reports).expect("the report directory");
    std::fs::write(
        reports.join("openapi.json"),
        serde_json::to_string_pretty(&openapi).expect("the document serialises"),
    )
    .expect("write openapi.json");

    // Both backends, each as both roles: four schemathesis processes at once.
    let (postgres, sqlite) = tokio::join!(
        fuzz::<Postgres>(&schemathesis, &reports),
        fuzz::<Sqlite>(&schemathesis, &reports)
    );
    println!("schemathesis: {:.0?} in all", started.elapsed());
    let failures: Vec<String> = postgres.into_iter().chain(sqlite).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// schemathesis against a seeded app on `B`, as a coordinator and as an admin; the failed runs'
/// reports.
async fn fuzz<B: TestBackend>(schemathesis: &Path, reports: &Path) -> Vec<String> {
    let app = spawn_app::<B>().await;
    seed(&app).await;
    let document = format!("{}/api/v1/openapi.json", app.address);
    let runs = [
        ("coordinator", &app.coordinator.token),
        ("admin", &app.admin.token),
    ]
    .map(|(role, token)| {
        let name = format!("{}-{role}", B::NAME);
        let mut command =
            schemathesis_command(schemathesis, &document, token, &reports.join(&name));
        tokio::task::spawn_blocking(move || (name, run(&mut command)))
    });
    let mut failures = Vec::new();
    for run in runs {
        let (name, output) = run.await.expect("schemathesis run");
        let report = String::from_utf8_lossy(&output.stdout);
        println!("── schemathesis: {name} ──\n{report}");
        if !output.status.success() {
            failures.push(format!(
                "schemathesis ({name}) exited with {}:\n{report}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    failures
}

/// More mentors of every status, so list filters, searches and transitions have something to do,
/// and a run log, reminders, notifications and an alert, so their lists have items to check.
async fn seed<B: TestBackend>(app: &TestApp<B>) {
    let now = app.clock.now();
    let mentors = (0..12)
        .map(|n| {
            let status = MentorStatus::ALL[n % MentorStatus::ALL.len()];
            let expires_on = date("2026-06-20") + chrono::Days::new(n as u64 * 20);
            NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse(&format!("Likeperson {n:02}")).unwrap(),
                email: Email::parse(&format!("likeperson{n:02}@hlf.no")).unwrap(),
                phone: (n % 2 == 0).then(|| Phone::parse("+47 22 33 44 55").unwrap()),
                listed_publicly: n % 3 != 0,
                dynamics_contact_id: (n == 1).then(uuid::Uuid::now_v7),
                dynamics_key: (n == 5).then(|| format!("HLF-{n:04}")),
                status,
                certification: (status != MentorStatus::CertificationExpired).then(|| {
                    NewCertification::new(
                        CertificationPeriod::new(date("2025-01-01"), expires_on).unwrap(),
                    )
                }),
            }
        })
        .collect();
    app.store
        .create_mentors(app.org.id, Actor::System, mentors, now)
        .await
        .expect("seed mentors");
    let engine = engine::Engine::new(app.store.clone(), Arc::new(app.clock.clone()));
    engine
        .run_expiry(&app.org, date(helpers::TODAY))
        .await
        .expect("an expiry run");
    app.store
        .open_alert(store::NewAlert {
            org: Some(app.org.id),
            kind: "duplicate_effects".into(),
            severity: store::Severity::Critical,
            dedupe_key: "fuzz:1".into(),
            summary: "two reminders for one key".into(),
            at: now,
        })
        .await
        .expect("an alert");
}

fn schemathesis_command(
    schemathesis: &Path,
    document: &str,
    token: &str,
    report_dir: &Path,
) -> Command {
    let mut command = Command::new(schemathesis);
    command
        .args(["--no-color", "run", document])
        // Every check; `positive_data_acceptance` as `hooks.py` narrows it (see there why).
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--max-examples",
            &setting("MENTOR_STATUS_FUZZ_EXAMPLES", MAX_EXAMPLES),
        ])
        .args(["--seed", &setting("MENTOR_STATUS_FUZZ_SEED", SEED)])
        .args(["--generation-database", "none"])
        .args(["--output-sanitize", "false"])
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--report", "junit", "--report-dir"])
        .arg(report_dir)
        .env(
            "SCHEMATHESIS_HOOKS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/hooks.py"),
        )
        .env("NO_COLOR", "1");
    command
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The pinned schemathesis in `target/schemathesis/venv`, installed there if missing.
fn install_schemathesis() -> PathBuf {
    let venv = target_dir().join("schemathesis").join("venv");
    let bin = venv.join("bin").join("schemathesis");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if installed.as_deref() == Some(&format!("schemathesis, version {SCHEMATHESIS}")) {
        return bin;
    }
    let started = Instant::now();
    let venv_created = run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    assert!(
        venv_created.status.success(),
        "python3 -m venv {} failed (schemathesis needs CPython 3 with venv):\n{}",
        venv.display(),
        String::from_utf8_lossy(&venv_created.stderr)
    );
    let pip = run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("schemathesis=={SCHEMATHESIS}"),
    ]));
    assert!(
        pip.status.success(),
        "pip could not install schemathesis=={SCHEMATHESIS} from PyPI into {} (is the package \
         registry reachable?):\n{}{}",
        venv.display(),
        String::from_utf8_lossy(&pip.stdout),
        String::from_utf8_lossy(&pip.stderr)
    );
    println!(
        "installed schemathesis {SCHEMATHESIS} in {:.0?}",
        started.elapsed()
    );
    bin
}
