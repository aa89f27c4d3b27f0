//! `mentor-status expiry run` and the scheduler inside `serve`, run as an operator runs them: the
//! real binary against its own PostgreSQL database per test. Includes the crash-safety check: runs
//! killed (SIGKILL) at several points, then re-run, end where one clean run ends.

mod support;

use support::{JWT_SECRET, Run, Server, Setup, free_port};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};

/// A fixed business date far in the future, so that certifications written relative to it are valid
/// today (the import makes them `active`) and every run uses `--as-of D --allow-future`.
const D: &str = "2090-06-15";

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a valid date")
}

fn plus(day: &str, days: i64) -> String {
    let d = date(day);
    let moved = if days >= 0 {
        d.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    moved.expect("in range").to_string()
}

/// The counts of a `--json` run report, in the order the summary prints them.
fn counts(run: &serde_json::Value) -> [u64; 9] {
    let c = &run["counts"];
    [
        "expired",
        "resumed",
        "resumed_into_expired",
        "reminders_sent",
        "reminders_skipped",
        "resume_notices",
        "lost_races",
        "digests",
        "findings",
    ]
    .map(|k| {
        c[k].as_u64()
            .unwrap_or_else(|| panic!("counts.{k} is a number: {run}"))
    })
}

const HEADER: &str = "full_name,email,phone,listed_publicly,dynamics_contact_id,dynamics_key,certification_issued_on,certification_expires_on";

// ---------------------------------------------------------------------------------------------
// 1. `expiry run` basics
// ---------------------------------------------------------------------------------------------

/// Organisation `hlf` with coordinator kari and admin ola, an empty organisation `nord`, and the
/// mentors of [`expiry_run_does_what_the_population_implies_once`] imported from CSV (all active:
/// every certification is valid today) and four of them paused in SQL.
async fn basics_population(setup: &Setup) {
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    setup
        .run(&["orgs", "add", "--slug", "nord", "--name", "Nord"])
        .success();
    for (email, role) in [
        ("kari@example.no", "coordinator"),
        ("ola@example.no", "admin"),
    ] {
        setup
            .run(&[
                "users", "add", "--org", "hlf", "--email", email, "--role", role,
            ])
            .success();
    }
    let mentors: [(&str, i64); 14] = [
        ("lapsed10", -10),
        ("lapsed3", -3),
        ("lapsed1", -1),
        ("lastday", 0),
        ("left5", 5),
        ("left10", 10),
        ("left20", 20),
        ("left30", 30),
        ("left31", 31),
        ("far", 200),
        ("backtoday", 200),
        ("backlapsed", -1),
        ("backsoon", 200),
        ("pausedexpiring", 7),
    ];
    let mut csv = format!("{HEADER}\n");
    for (name, days) in mentors {
        csv.push_str(&format!(
            "Mentor {name},{name}@example.no,,yes,,,2080-01-01,{}\n",
            plus(D, days)
        ));
    }
    let file = setup.write("mentors.csv", &csv);
    let imported = setup
        .run(&["import", "mentors", &file, "--org", "hlf"])
        .success();
    assert!(
        imported
            .stdout
            .contains("imported 14 mentors into hlf (14 active, 0 certification_expired)"),
        "{imported:#?}"
    );
    // Paused as a coordinator would have paused them (reason, return date), written in SQL.
    let mut conn = setup.sql().await;
    for (name, resume_on) in [
        ("backtoday", Some(plus(D, 0))),
        ("backlapsed", Some(plus(D, -2))),
        ("backsoon", Some(plus(D, 2))),
        ("pausedexpiring", None),
    ] {
        let updated = sqlx::query(
            "UPDATE mentors SET status = 'paused', status_reason = 'ferie', resume_on = $2::date, \
                 status_changed_at = now(), updated_at = now(), version = version + 1 \
             WHERE email = $1",
        )
        .bind(format!("{name}@example.no"))
        .bind(resume_on.map(|d| date(&d)))
        .execute(&mut conn)
        .await
        .expect("pause a mentor")
        .rows_affected();
        assert_eq!(updated, 1, "{name}");
    }
}

#[tokio::test]
async fn expiry_run_does_what_the_population_implies_once() {
    let setup = Setup::new().await;
    basics_population(&setup).await;

    // A future business date without --allow-future is refused before anything is written.
    let refused = setup
        .run(&["expiry", "run", "--as-of", D])
        .fails_with(2, &["--as-of 2090-06-15", "--allow-future"]);
    assert!(refused.stdout.is_empty(), "{refused:#?}");
    let refused = setup
        .run(&["--json", "expiry", "run", "--org", "hlf", "--as-of", D])
        .fails_with(2, &["--as-of 2090-06-15", "--allow-future"]);
    assert_eq!(refused.json()["exit_code"], 2, "{refused:#?}");
    assert_eq!(setup.scalar("SELECT count(*) FROM job_runs").await, 0);
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM cert_expiry_reminders")
            .await,
        0
    );
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM mentors WHERE status = 'certification_expired'")
            .await,
        0
    );
    // --allow-future alone is a usage error; so is a date that is not one.
    setup
        .run(&["expiry", "run", "--allow-future"])
        .fails_with(2, &["--as-of"]);
    setup
        .run(&["expiry", "run", "--as-of", "2090-13-01", "--allow-future"])
        .fails_with(2, &["2090-13-01"]);

    // The clean run, for every organisation.
    let first = setup
        .run(&["--json", "expiry", "run", "--as-of", D, "--allow-future"])
        .success();
    let report = first.json();
    let runs = report["runs"].as_array().expect("runs is a list");
    assert_eq!(runs.len(), 2, "one run per organisation: {report}");
    let by_org: BTreeMap<&str, &serde_json::Value> = runs
        .iter()
        .map(|r| (r["org"].as_str().expect("org slug"), r))
        .collect();
    let hlf = by_org["hlf"];
    assert_eq!(hlf["business_date"], D);
    assert_eq!(hlf["outcome"], "succeeded");
    assert!(hlf["error"].is_null(), "{hlf}");
    assert!(hlf["run_id"].as_str().is_some_and(|id| id.len() == 36));
    // expired: lapsed10, lapsed3, lapsed1 (lastday's last valid day is D).
    // resumed: backtoday; into certification_expired: backlapsed.
    // reminders: lastday (0 left), left5, pausedexpiring (7 left) send 7 and skip 30 and 14;
    //   left10 sends 14 and skips 30; left20 and left30 send 30 → 6 sent, 7 skipped.
    // resume notices: backsoon (back in 2 days). One digest: kari (the admin gets none).
    assert_eq!(counts(hlf), [3, 1, 1, 6, 7, 1, 0, 1, 0], "{hlf}");
    assert_eq!(
        counts(by_org["nord"]),
        [0; 9],
        "an organisation without mentors: {report}"
    );

    let mut statuses = setup
        .lines("SELECT split_part(email, '@', 1) || ' ' || status FROM mentors")
        .await;
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "backlapsed certification_expired",
            "backsoon paused",
            "backtoday active",
            "far active",
            "lapsed1 certification_expired",
            "lapsed10 certification_expired",
            "lapsed3 certification_expired",
            "lastday active",
            "left10 active",
            "left20 active",
            "left30 active",
            "left31 active",
            "left5 active",
            "pausedexpiring paused",
        ]
    );
    let mut ledger = setup
        .lines(
            "SELECT split_part(m.email, '@', 1) || ' ' || r.threshold_days || ' ' || r.outcome \
             FROM cert_expiry_reminders r JOIN mentors m ON m.id = r.mentor_id",
        )
        .await;
    ledger.sort();
    assert_eq!(
        ledger,
        [
            "lastday 14 skipped",
            "lastday 30 skipped",
            "lastday 7 sent",
            "left10 14 sent",
            "left10 30 skipped",
            "left20 30 sent",
            "left30 30 sent",
            "left5 14 skipped",
            "left5 30 skipped",
            "left5 7 sent",
            "pausedexpiring 14 skipped",
            "pausedexpiring 30 skipped",
            "pausedexpiring 7 sent",
        ]
    );
    let notifications = setup
        .lines(
            "SELECT kind || ' ' || count(*) FROM notifications WHERE org_id = \
             (SELECT id FROM organisations WHERE slug = 'hlf') GROUP BY kind ORDER BY kind",
        )
        .await;
    assert_eq!(
        notifications,
        [
            "auto_resumed 2",
            "certification_expired 3",
            "certification_reminder 6",
            "coordinator_digest 1",
            "resume_notice 1",
        ]
    );
    let digest: serde_json::Value = sqlx::query_scalar(
        "SELECT n.payload FROM notifications n JOIN users u ON u.id = n.recipient_user_id \
         WHERE n.kind = 'coordinator_digest' AND u.email = 'kari@example.no'",
    )
    .fetch_one(&mut setup.sql().await)
    .await
    .expect("kari has the day's digest");
    assert_eq!(digest["business_date"], D);
    assert_eq!(
        digest["counts"],
        serde_json::json!({ "transitions": 5, "reminders": 6, "resume_notices": 1 }),
        "{digest}"
    );
    let after_first = everything(&setup).await;

    // The same command again: nothing new, and no second digest.
    let again = setup
        .run(&["--json", "expiry", "run", "--as-of", D, "--allow-future"])
        .success();
    let report = again.json();
    for run in report["runs"].as_array().expect("runs is a list") {
        assert_eq!(run["outcome"], "succeeded", "{run}");
        assert_eq!(counts(run), [0; 9], "a re-run does nothing new: {run}");
    }
    assert_eq!(everything(&setup).await, after_first);
    assert_eq!(
        setup
            .lines("SELECT outcome || ' ' || count(*) FROM job_runs GROUP BY outcome")
            .await,
        ["succeeded 4"],
        "two commands, two organisations each, all in the run log"
    );

    // An unknown organisation: the work cannot be done (exit 1), nothing is recorded.
    let unknown = setup
        .run(&[
            "expiry",
            "run",
            "--org",
            "unknown",
            "--as-of",
            D,
            "--allow-future",
        ])
        .fails_with(1, &["no organisation has the slug `unknown`"]);
    assert!(unknown.stdout.is_empty(), "{unknown:#?}");
    setup
        .run(&["expiry", "run", "--org", "Not A Slug!"])
        .fails_with(2, &["Not A Slug!"]);
    assert_eq!(setup.scalar("SELECT count(*) FROM job_runs").await, 4);

    // A past date needs no flag.
    let past = setup
        .run(&[
            "--json",
            "expiry",
            "run",
            "--org",
            "nord",
            "--as-of",
            "2020-01-01",
        ])
        .success();
    assert_eq!(past.json()["runs"][0]["business_date"], "2020-01-01");

    // The next day, in human form: lastday lapses, left31 reaches its 30-day reminder.
    let next_day = plus(D, 1);
    let human = setup
        .run(&[
            "expiry",
            "run",
            "--org",
            "hlf",
            "--as-of",
            &next_day,
            "--allow-future",
        ])
        .success();
    let line = human.stdout.trim();
    assert_eq!(
        line.lines().count(),
        1,
        "one line per organisation: {human:#?}"
    );
    assert!(
        line.starts_with(&format!(
            "hlf {next_day}: 1 expired, 0 resumed (0 into certification_expired), \
             1 reminders sent, 0 skipped, 0 resume notices, 1 coordinator digests, \
             0 duplicate findings (run "
        )),
        "{human:#?}"
    );
    assert!(
        human.stderr.is_empty(),
        "a successful run logs nothing at the default level: {human:#?}"
    );
    assert_eq!(
        setup
            .scalar(
                "SELECT count(*) FROM notifications WHERE kind = 'coordinator_digest' \
                 AND payload->>'business_date' = '2090-06-16'"
            )
            .await,
        1,
        "the next day has its own digest"
    );
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM reconciliation_log")
            .await
            + setup.scalar("SELECT count(*) FROM alerts").await,
        0,
        "the compensation check found nothing"
    );
}

#[tokio::test]
async fn a_failed_organisation_exits_1_is_logged_and_does_not_stop_the_others() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    for slug in ["hlf", "nord"] {
        setup
            .run(&["orgs", "add", "--slug", slug, "--name", slug])
            .success();
    }
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "kari@example.no",
            "--role",
            "coordinator",
        ])
        .success();
    let csv = setup.write(
        "mentors.csv",
        &format!(
            "{HEADER}\nTo,left2@example.no,,,,,2080-01-01,{}\nFem,left5@example.no,,,,,2080-01-01,{}\n",
            plus(D, 2),
            plus(D, 5)
        ),
    );
    setup
        .run(&["import", "mentors", &csv, "--org", "hlf"])
        .success();
    // hlf remind at 3 days only; nord's settings hold a threshold the rules refuse.
    sqlx::query(
        "UPDATE organisations SET settings = CASE slug \
             WHEN 'hlf' THEN '{\"thresholds_days\": [3]}'::jsonb \
             ELSE '{\"thresholds_days\": [0]}'::jsonb END",
    )
    .execute(&mut setup.sql().await)
    .await
    .expect("write the settings");

    let per_org = |args: &[&str]| {
        setup
            .command(args)
            .env("MENTOR_STATUS__FEATURES__PER_ORG_THRESHOLDS", "true")
            .output()
            .map(Run::of)
            .expect("run mentor-status")
    };
    let failed = per_org(&["expiry", "run", "--as-of", D, "--allow-future"]).fails_with(
        1,
        // So far the reason reads only `nord: invalid input`: EngineError::Invalid's message names
        // neither the field (thresholds_days) nor the value, in stderr and in job_runs.error alike.
        &["the expiry run failed for 1 of 2 organisation(s)", "nord: "],
    );
    assert!(!failed.stderr.contains("hlf: "), "{failed:#?}");
    let log = setup
        .lines(
            "SELECT o.slug || ' ' || j.outcome || ' ' || (j.error IS NOT NULL) || ' ' || (j.finished_at IS NOT NULL) \
             FROM job_runs j JOIN organisations o ON o.id = j.org_id ORDER BY o.slug",
        )
        .await;
    assert_eq!(log, ["hlf succeeded false true", "nord failed true true"]);
    assert_eq!(
        setup
            .lines(
                "SELECT m.email || ' ' || r.threshold_days || ' ' || r.outcome \
                 FROM cert_expiry_reminders r JOIN mentors m ON m.id = r.mentor_id"
            )
            .await,
        ["left2@example.no 3 sent"],
        "hlf's own threshold applies with the flag on"
    );

    let json = per_org(&[
        "--json",
        "expiry",
        "run",
        "--org",
        "nord",
        "--as-of",
        D,
        "--allow-future",
    ])
    .fails_with(1, &["nord: "]);
    let error = json.json();
    assert_eq!(error["exit_code"], 1, "{error}");
    assert!(
        error["details"][0]
            .as_str()
            .is_some_and(|d| d.starts_with("nord: ")),
        "{error}"
    );
    // Without the flag, organisations' own thresholds are not read: nord runs too.
    setup
        .run(&[
            "expiry",
            "run",
            "--org",
            "nord",
            "--as-of",
            D,
            "--allow-future",
        ])
        .success();
}

/// Every effect of the runs as comparable text.
async fn everything(setup: &Setup) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id::text || ' ' || status || ' ' || version FROM mentors ORDER BY 1",
        "SELECT mentor_id::text || ' ' || threshold_days || ' ' || outcome FROM cert_expiry_reminders ORDER BY 1",
        "SELECT mentor_id::text || ' ' || coalesce(from_status, '-') || '>' || to_status || ' ' || \
         coalesce(idempotency_key, '-') FROM status_history ORDER BY 1",
        "SELECT kind || ' ' || coalesce(mentor_id::text, '-') || ' ' || payload::text FROM notifications ORDER BY 1",
        "SELECT mentor_id::text || ' ' || mentor_version FROM sync_outbox ORDER BY 1",
        "SELECT mentor_id::text || ' ' || resume_on FROM resume_notices ORDER BY 1",
        "SELECT org_id::text || ' ' || business_date FROM digests ORDER BY 1",
    ] {
        out.extend(setup.lines(sql).await);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 2. Crash safety
// ---------------------------------------------------------------------------------------------

/// Organisations in the crash-safety population, and mentors in each.
const CRASH_ORGS: i64 = 3;
const CRASH_MENTORS_PER_ORG: i64 = 3000;
/// Small batches give a run many commits, so kills land between and inside them.
const CRASH_BATCH_SIZE: &str = "250";
/// Organisations one `expiry run` works on at once: a killed process leaves at most this many runs
/// `running`.
const CRASH_PARALLEL_ORGS: usize = 2;

/// The same population in every database, with ids derived from numbers (md5), so two databases
/// can be compared mentor by mentor. Mentor n belongs to organisation n % 3; with j = n / 3 its
/// kind is j % 10:
/// 0–2 active, lapsed 1–200 days before D; 3–4 active, expiring in 0–30 days (reminders);
/// 5 paused, due back (D−3…D) with a valid certification; 6 paused, due back, lapsed meanwhile;
/// 7 paused, back in 1–6 days (a notice when within 3); 8 paused without a return date, expiring in
/// 0–30 days (reminders); 9 active far from expiry, every tenth of them without any certification.
async fn seed_crash_population(setup: &Setup, orgs: i64, per_org: i64) {
    setup.run(&["migrate"]).success();
    let d = D;
    let script = format!(
        "BEGIN;
         INSERT INTO organisations (id, slug, name, timezone)
         SELECT md5('org' || g)::uuid, 'org' || g, 'Organisation ' || g, 'Europe/Oslo'
         FROM generate_series(0, {orgs} - 1) g;
         INSERT INTO users (id, org_id, email, role, auth_subject)
         SELECT md5('user' || g)::uuid, md5('org' || g)::uuid, 'coordinator@org' || g || '.example.org',
                'coordinator', 'coordinator-org' || g
         FROM generate_series(0, {orgs} - 1) g;
         CREATE TEMP TABLE seed ON COMMIT DROP AS
         SELECT n, j, md5('mentor' || n)::uuid AS id, md5('org' || (n % {orgs}))::uuid AS org_id,
                CASE WHEN j % 10 IN (5, 6, 7, 8) THEN 'paused' ELSE 'active' END AS status,
                CASE j % 10 WHEN 5 THEN DATE '{d}' - (j % 4)::int
                            WHEN 6 THEN DATE '{d}' - (j % 4)::int
                            WHEN 7 THEN DATE '{d}' + 1 + (j % 6)::int END AS resume_on,
                CASE WHEN j % 10 IN (0, 1, 2) THEN DATE '{d}' - 1 - (j % 200)::int
                     WHEN j % 10 IN (3, 4, 8) THEN DATE '{d}' + (j % 31)::int
                     WHEN j % 10 = 5 THEN DATE '{d}' + 100 + (j % 50)::int
                     WHEN j % 10 = 6 THEN DATE '{d}' - 1 - (j % 50)::int
                     WHEN j % 10 = 7 THEN DATE '{d}' + 200
                     WHEN j % 100 = 9 THEN NULL
                     ELSE DATE '{d}' + 40 + (j % 300)::int END AS expires_on
         FROM (SELECT n, n / {orgs} AS j FROM generate_series(0, {orgs} * {per_org} - 1) n) s;
         INSERT INTO mentors (id, org_id, full_name, email, status, status_reason, status_changed_at,
                              resume_on, listed_publicly, version, current_expires_on, created_at, updated_at)
         SELECT id, org_id, 'Mentor ' || n, 'mentor' || n || '@example.org', status,
                CASE WHEN status = 'paused' THEN 'crash test' END,
                '2026-01-01T00:00:00Z', resume_on, true, 1, expires_on,
                '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
         FROM seed;
         INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at)
         SELECT md5('certification' || n)::uuid, id, 'likeperson', expires_on - 730, expires_on,
                '2026-01-01T00:00:00Z'
         FROM seed WHERE expires_on IS NOT NULL;
         COMMIT;
         ANALYZE;"
    );
    sqlx::raw_sql(&script)
        .execute(&mut setup.sql().await)
        .await
        .unwrap_or_else(|e| panic!("seed the population: {e}"));
}

/// What is in a database at one moment, for the log of where a kill landed.
async fn progress(setup: &Setup) -> String {
    let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM status_history WHERE to_status = 'certification_expired' \
                   AND actor_kind = 'system'), \
                (SELECT count(*) FROM status_history WHERE to_status = 'active'), \
                (SELECT count(*) FROM cert_expiry_reminders), \
                (SELECT count(*) FROM resume_notices), \
                (SELECT count(*) FROM digests), \
                (SELECT count(*) FROM job_runs WHERE outcome = 'running'), \
                (SELECT count(*) FROM job_runs WHERE outcome = 'succeeded'), \
                (SELECT count(*) FROM job_runs WHERE outcome = 'failed')",
    )
    .fetch_one(&mut setup.sql().await)
    .await
    .expect("read progress");
    format!(
        "to certification_expired {}, resumed to active {}, ledger rows {}, resume notices {}, digests {}, \
         job_runs running/succeeded/failed {}/{}/{}",
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7
    )
}

/// Everything the runs decided, per mentor (ids are the same in both databases).
async fn crash_effects(setup: &Setup) -> BTreeMap<&'static str, Vec<String>> {
    let queries: [(&'static str, &str); 8] = [
        (
            "mentors",
            "SELECT id::text || ' ' || status || ' ' || coalesce(resume_on::text, '-') || ' v' || version \
             FROM mentors ORDER BY id",
        ),
        (
            "reminder ledger",
            "SELECT mentor_id::text || ' ' || threshold_days || ' ' || certification_expires_on || ' ' \
                    || outcome || ' ' || business_date \
             FROM cert_expiry_reminders ORDER BY 1",
        ),
        (
            "history",
            "SELECT mentor_id::text || ' ' || coalesce(from_status, '-') || '>' || to_status || ' ' \
                    || actor_kind || ' ' || coalesce(idempotency_key, '-') || ' ' \
                    || coalesce(certification_expires_on::text, '-') \
             FROM status_history ORDER BY 1",
        ),
        (
            "notifications",
            "SELECT kind || ' ' || coalesce(mentor_id::text, '-') || ' ' \
                    || coalesce(recipient_mentor_id::text, '-') || ' ' || payload::text || ' x' || count(*) \
             FROM notifications WHERE kind <> 'coordinator_digest' \
             GROUP BY kind, mentor_id, recipient_mentor_id, payload ORDER BY 1",
        ),
        (
            "notifications per kind",
            "SELECT kind || ' ' || count(*) FROM notifications WHERE kind <> 'coordinator_digest' \
             GROUP BY kind ORDER BY 1",
        ),
        (
            "outbox",
            "SELECT mentor_id::text || ' ' || count(*) || ' ' || string_agg(mentor_version::text, ',' \
                    ORDER BY mentor_version) \
             FROM sync_outbox GROUP BY mentor_id ORDER BY 1",
        ),
        (
            "resume notices",
            "SELECT mentor_id::text || ' ' || resume_on || ' ' || business_date FROM resume_notices ORDER BY 1",
        ),
        (
            "compensation",
            "SELECT 'finding ' || kind || ' ' || key FROM reconciliation_log \
             UNION ALL SELECT 'alert ' || kind || ' ' || dedupe_key FROM alerts ORDER BY 1",
        ),
    ];
    let mut out = BTreeMap::new();
    for (name, sql) in queries {
        out.insert(name, setup.lines(sql).await);
    }
    out
}

/// Per organisation: the effects no digest has listed yet (those of runs not marked digested), and
/// all effects, as (transitions, sent reminders, resume notices).
async fn effect_totals(setup: &Setup) -> BTreeMap<String, ([i64; 3], [i64; 3])> {
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT o.slug, \
            (SELECT count(*) FROM status_history h WHERE h.org_id = o.id AND h.actor_kind = 'system'), \
            (SELECT count(*) FROM cert_expiry_reminders r WHERE r.org_id = o.id AND r.outcome = 'sent'), \
            (SELECT count(*) FROM resume_notices n WHERE n.org_id = o.id), \
            (SELECT count(*) FROM status_history h JOIN job_runs j ON j.id = h.run_id \
              WHERE h.org_id = o.id AND h.actor_kind = 'system' AND NOT j.digested), \
            (SELECT count(*) FROM cert_expiry_reminders r JOIN job_runs j ON j.id = r.run_id \
              WHERE r.org_id = o.id AND r.outcome = 'sent' AND NOT j.digested), \
            (SELECT count(*) FROM resume_notices n JOIN job_runs j ON j.id = n.run_id \
              WHERE n.org_id = o.id AND NOT j.digested) \
         FROM organisations o ORDER BY o.slug",
    )
    .fetch_all(&mut setup.sql().await)
    .await
    .expect("count effects");
    rows.into_iter()
        .map(|(slug, t, r, n, ut, ur, un)| (slug, ([t, r, n], [ut, ur, un])))
        .collect()
}

/// The coordinator digests: (organisation slug, coordinator email, business date) → counts listed.
async fn digests(setup: &Setup) -> Vec<(String, String, String, [i64; 3])> {
    let rows: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT o.slug, u.email, n.payload FROM notifications n \
         JOIN users u ON u.id = n.recipient_user_id JOIN organisations o ON o.id = n.org_id \
         WHERE n.kind = 'coordinator_digest' ORDER BY 1, 2, n.payload->>'business_date'",
    )
    .fetch_all(&mut setup.sql().await)
    .await
    .expect("read digests");
    rows.into_iter()
        .map(|(slug, email, payload)| {
            let c = &payload["counts"];
            let n = |k: &str| c[k].as_i64().unwrap_or_else(|| panic!("{k}: {payload}"));
            (
                slug,
                email,
                payload["business_date"]
                    .as_str()
                    .expect("business_date")
                    .to_owned(),
                [n("transitions"), n("reminders"), n("resume_notices")],
            )
        })
        .collect()
}

/// One attempt on database B that was killed.
#[derive(Debug)]
struct Kill {
    delay: Duration,
    pid: u32,
    exited_before_kill: Option<i32>,
    left_behind: String,
}

#[tokio::test]
async fn runs_killed_at_several_points_then_rerun_equal_one_clean_run() {
    let clean = Setup::new().await;
    let crashed = Setup::new().await;
    seed_crash_population(&clean, CRASH_ORGS, CRASH_MENTORS_PER_ORG).await;
    seed_crash_population(&crashed, CRASH_ORGS, CRASH_MENTORS_PER_ORG).await;
    assert_eq!(
        crash_effects(&clean).await,
        crash_effects(&crashed).await,
        "both databases start equal"
    );
    let args = ["--json", "expiry", "run", "--as-of", D, "--allow-future"];
    let with_batch = |setup: &Setup| {
        let mut command = setup.command(&args);
        command
            .env("MENTOR_STATUS__EXPIRY__BATCH_SIZE", CRASH_BATCH_SIZE)
            .env(
                "MENTOR_STATUS__EXPIRY__PARALLEL_ORGS",
                CRASH_PARALLEL_ORGS.to_string(),
            );
        command
    };

    // A: one clean run, timed.
    let started = Instant::now();
    let clean_run = Run::of(with_batch(&clean).output().expect("run mentor-status"));
    let clean_time = started.elapsed();
    let clean_run = clean_run.success();
    let clean_report = clean_run.json();
    println!(
        "clean run: {} ms; {}",
        clean_time.as_millis(),
        progress(&clean).await
    );
    for run in clean_report["runs"].as_array().expect("runs") {
        println!("  clean {} counts {}", run["org"], run["counts"]);
        let c = counts(run);
        assert!(
            c[0] > 0 && c[1] > 0 && c[2] > 0 && c[3] > 0 && c[4] > 0 && c[5] > 0,
            "the population gives every kind of effect: {run}"
        );
        assert_eq!(c[7], 1, "one coordinator, one digest: {run}");
    }

    // B: the same command killed (SIGKILL) at several points: right after the start, then at
    // fractions of the clean run's duration. Each attempt continues where the earlier ones stopped
    // (after about 0.1 s of starting up), so the kills land before the first write, inside each step
    // of the first organisation, in the later organisations, and the last ones after the work
    // was done (the process had exited; the kill finds nothing to stop).
    let fractions = [0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3];
    let mut kills = Vec::new();
    for fraction in fractions {
        let delay = clean_time.mul_f64(fraction);
        let mut child: Child = with_batch(&crashed)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mentor-status");
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let exited_before_kill = child
            .try_wait()
            .expect("poll the run")
            .map(|s| s.code().unwrap_or(-1));
        child.kill().expect("SIGKILL the run");
        let status = child.wait().expect("reap the run");
        assert!(
            exited_before_kill.is_some() || status.code().is_none(),
            "the run died of the signal: {status}"
        );
        let kill = Kill {
            delay,
            pid: child.id(),
            exited_before_kill,
            left_behind: progress(&crashed).await,
        };
        println!(
            "kill after {:>5} ms (pid {}){}: {}",
            kill.delay.as_millis(),
            kill.pid,
            match kill.exited_before_kill {
                Some(code) => format!(" — had already exited with {code}"),
                None => String::new(),
            },
            kill.left_behind
        );
        kills.push(kill);
    }
    let distinct_points: std::collections::BTreeSet<&str> =
        kills.iter().map(|k| k.left_behind.as_str()).collect();
    assert!(
        distinct_points.len() >= 3,
        "the kills should land at different points of the run: {kills:#?}"
    );

    // Then once more, to completion.
    let last = Run::of(with_batch(&crashed).output().expect("run mentor-status")).success();
    let last_report = last.json();
    for run in last_report["runs"].as_array().expect("runs") {
        println!("  final re-run {} counts {}", run["org"], run["counts"]);
        assert_eq!(run["outcome"], "succeeded", "{run}");
        assert_eq!(run["counts"]["findings"], 0, "{run}");
    }
    println!("after the final re-run: {}", progress(&crashed).await);

    // Every effect, mentor by mentor, equals the clean run's.
    let expected = crash_effects(&clean).await;
    let actual = crash_effects(&crashed).await;
    for (name, rows) in &expected {
        let got = &actual[name];
        if got != rows {
            let missing: Vec<&String> = rows.iter().filter(|r| !got.contains(r)).take(5).collect();
            let extra: Vec<&String> = got.iter().filter(|r| !rows.contains(r)).take(5).collect();
            panic!(
                "{name} differs from the clean run ({} rows vs {}); missing e.g. {missing:#?}, \
                 extra e.g. {extra:#?}",
                got.len(),
                rows.len()
            );
        }
    }

    // The run log: a killed run never finished (no process was left to record it), so it is
    // `running`, at most one per killed process (the organisation it was in); everything that
    // finished succeeded; the final command succeeded for every organisation.
    let log: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT j.instance, o.slug, j.outcome FROM job_runs j \
         JOIN organisations o ON o.id = j.org_id ORDER BY j.id",
    )
    .fetch_all(&mut crashed.sql().await)
    .await
    .expect("read the run log");
    let pid_of = |instance: &str| -> u32 {
        instance
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("instance names a pid: {instance}"))
    };
    for kill in &kills {
        let mine: Vec<&(String, String, String)> =
            log.iter().filter(|r| pid_of(&r.0) == kill.pid).collect();
        let running = mine.iter().filter(|r| r.2 == "running").count();
        assert!(
            mine.iter().all(|r| r.2 == "running" || r.2 == "succeeded"),
            "{kill:?}: {mine:?}"
        );
        if kill.exited_before_kill.is_some() {
            assert_eq!(running, 0, "{kill:?}: {mine:?}");
        } else {
            assert!(running <= CRASH_PARALLEL_ORGS, "{kill:?}: {mine:?}");
        }
        println!(
            "  run log of pid {}: {:?}",
            kill.pid,
            mine.iter()
                .map(|r| format!("{} {}", r.1, r.2))
                .collect::<Vec<_>>()
        );
    }
    let final_runs: Vec<&str> = last_report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run_id"].as_str().expect("run id"))
        .collect();
    for run_id in &final_runs {
        let outcome: String =
            sqlx::query_scalar("SELECT outcome FROM job_runs WHERE id = $1::uuid")
                .bind(run_id)
                .fetch_one(&mut crashed.sql().await)
                .await
                .expect("the final runs are logged");
        assert_eq!(outcome, "succeeded");
    }
    assert_eq!(
        log.iter().filter(|r| r.2 == "failed").count(),
        0,
        "nothing recorded a failure: a kill leaves no chance to"
    );

    // Digests. A: one per coordinator for D, listing everything.
    let totals_clean = effect_totals(&clean).await;
    let clean_digests = digests(&clean).await;
    assert_eq!(clean_digests.len() as i64, CRASH_ORGS, "{clean_digests:?}");
    for (slug, _, day, listed) in &clean_digests {
        assert_eq!(day, D);
        assert_eq!(
            *listed, totals_clean[slug].0,
            "{slug}: the digest lists everything"
        );
        assert_eq!(
            totals_clean[slug].1,
            [0, 0, 0],
            "{slug}: nothing left undigested"
        );
    }
    // B: never two digests for a coordinator and day, never an effect listed twice or lost: what the
    // digests list plus what no digest has listed yet is every effect.
    let check_b = |digests: &[(String, String, String, [i64; 3])],
                   totals: &BTreeMap<String, ([i64; 3], [i64; 3])>| {
        let mut seen = std::collections::BTreeSet::new();
        for (slug, email, day, _) in digests {
            assert!(
                seen.insert((slug.clone(), email.clone(), day.clone())),
                "two digests for {email} on {day}: {digests:?}"
            );
        }
        for (slug, (all, undigested)) in totals {
            let mut listed = [0; 3];
            for (_, _, _, counts) in digests.iter().filter(|d| &d.0 == slug) {
                for (sum, n) in listed.iter_mut().zip(counts) {
                    *sum += n;
                }
            }
            let accounted: Vec<i64> = listed.iter().zip(undigested).map(|(a, b)| a + b).collect();
            assert_eq!(
                accounted, all,
                "{slug}: listed {listed:?} + not yet listed {undigested:?} = every effect {all:?}"
            );
        }
    };
    let crashed_digests = digests(&crashed).await;
    let crashed_totals = effect_totals(&crashed).await;
    println!("B digests right after the final re-run: {crashed_digests:?}");
    println!("B effects (all, not yet digested) per organisation: {crashed_totals:?}");
    check_b(&crashed_digests, &crashed_totals);

    // The killed runs still hold their leases (10 minutes), so they count as alive and no digest
    // lists the effects until they run out. As if that time had passed, and the next run came:
    sqlx::query(
        "UPDATE job_runs SET lease_until = now() - interval '1 minute' WHERE outcome = 'running'",
    )
    .execute(&mut crashed.sql().await)
    .await
    .expect("let the leases of the killed runs run out");
    let after_lease = Run::of(with_batch(&crashed).output().expect("run mentor-status")).success();
    for run in after_lease.json()["runs"].as_array().expect("runs") {
        let c = counts(run);
        assert_eq!(&c[..7], &[0; 7], "nothing new to do: {run}");
        println!(
            "  run after the leases ran out {} counts {}",
            run["org"], run["counts"]
        );
    }
    let crashed_digests = digests(&crashed).await;
    let crashed_totals = effect_totals(&crashed).await;
    println!("B digests after the leases ran out: {crashed_digests:?}");
    check_b(&crashed_digests, &crashed_totals);
    assert_eq!(
        crashed_digests.len() as i64,
        CRASH_ORGS,
        "one digest per coordinator for the day once the killed runs are known dead: {crashed_digests:?}"
    );
    for (slug, _, day, listed) in &crashed_digests {
        assert_eq!(day, D);
        assert_eq!(
            *listed, totals_clean[slug].0,
            "{slug}: with no digest written before, the day's digest lists every effect, like A's"
        );
    }
    assert_eq!(
        crash_effects(&crashed).await,
        expected,
        "the extra run changed nothing else"
    );
}

/// The strict form of the crash-safety requirement for the digest: right after the re-run that
/// completes the work, the day has its coordinator digest, as after one clean run. The killed run
/// stays `running` until its lease (renewed while it worked) runs out; the re-run, finding it
/// apparently alive, waits for that and then writes the digest itself.
#[tokio::test]
async fn a_rerun_after_a_killed_run_writes_the_days_digest_at_once() {
    let setup = Setup::new().await;
    seed_crash_population(&setup, 1, 600).await;
    let command = || {
        let mut command =
            setup.command(&["--json", "expiry", "run", "--as-of", D, "--allow-future"]);
        // One mentor per statement: the run takes long enough to be caught in the middle.
        command
            .env("MENTOR_STATUS__EXPIRY__BATCH_SIZE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    // Kill a run once it has committed some of its work.
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 5, "could not catch a run in the middle");
        let mut child = command().spawn().expect("start mentor-status");
        let deadline = Instant::now() + Duration::from_secs(30);
        while setup
            .scalar("SELECT count(*) FROM status_history WHERE actor_kind = 'system'")
            .await
            < 10
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let exited = child.try_wait().expect("poll the run").is_some();
        child.kill().expect("SIGKILL the run");
        child.wait().expect("reap the run");
        if !exited {
            break;
        }
    }
    println!("killed: {}", progress(&setup).await);
    let rerun = Run::of(command().stdout(Stdio::piped()).output().expect("re-run")).success();
    println!("re-run: {}", rerun.stdout.trim());
    println!("after the re-run: {}", progress(&setup).await);
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM notifications WHERE kind = 'coordinator_digest'")
            .await,
        1,
        "the work of the day is done; its digest should be written, as after one clean run"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The scheduler inside `serve`
// ---------------------------------------------------------------------------------------------

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn two_servers_run_todays_expiry_once_and_stop_on_sigterm() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "kari@example.no",
            "--role",
            "coordinator",
        ])
        .success();
    // Oslo's today, as the database sees it; a mentor whose certification ends in 10 days.
    let today_sql = "SELECT ((now() AT TIME ZONE 'Europe/Oslo')::date)::text";
    let today: String = sqlx::query_scalar(today_sql)
        .fetch_one(&mut setup.sql().await)
        .await
        .expect("today in Oslo");
    let csv = setup.write(
        "mentors.csv",
        &format!(
            "{HEADER}\nKari Nordmann,mentor@example.no,,yes,,,2020-01-01,{}\n",
            plus(&today, 10)
        ),
    );
    setup
        .run(&["import", "mentors", &csv, "--org", "hlf"])
        .success();

    let mut servers = Vec::new();
    for n in 0..2 {
        let log = setup.dir.path().join(format!("serve-{n}.log"));
        let server = Server(
            setup
                .command(&["serve"])
                .env(
                    "MENTOR_STATUS__HTTP__BIND",
                    format!("127.0.0.1:{}", free_port()),
                )
                .env("MENTOR_STATUS__SCHEDULER__TICK_SECONDS", "1")
                .env("MENTOR_STATUS__EXPIRY__RUN_AT", "00:00")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("create the server log"))
                .spawn()
                .expect("start the server"),
        );
        servers.push((server, log));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let scheduled =
        "SELECT count(*) FROM job_runs WHERE trigger = 'scheduled' AND outcome = 'succeeded'";
    while setup.scalar(scheduled).await == 0 {
        for (server, log) in &mut servers {
            if let Some(status) = server.0.try_wait().expect("poll the server") {
                panic!("a server exited with {status}: {}", read(log));
            }
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled run within 30 s: {}",
            read(&servers[0].1)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A few more ticks of both: still one run for the day.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT business_date::text, trigger, outcome FROM job_runs ORDER BY id")
            .fetch_all(&mut setup.sql().await)
            .await
            .expect("read the run log");
    let today_after: String = sqlx::query_scalar(today_sql)
        .fetch_one(&mut setup.sql().await)
        .await
        .expect("today in Oslo");
    assert_eq!(
        runs.len(),
        1,
        "one scheduled run across two servers: {runs:?}"
    );
    let (business_date, trigger, outcome) = &runs[0];
    assert!(
        *business_date == today || *business_date == today_after,
        "the run is for Oslo's today: {runs:?}"
    );
    assert_eq!(
        (trigger.as_str(), outcome.as_str()),
        ("scheduled", "succeeded")
    );
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM scheduled_claims WHERE completed_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        setup
            .lines("SELECT threshold_days || ' ' || outcome FROM cert_expiry_reminders ORDER BY 1")
            .await,
        ["14 sent", "30 skipped"],
        "10 days left: the 14-day reminder"
    );
    assert_eq!(
        setup
            .scalar("SELECT count(*) FROM notifications WHERE kind = 'coordinator_digest'")
            .await,
        1
    );

    for (server, log) in &mut servers {
        let terminated = Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(terminated.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = server.0.try_wait().expect("poll the server") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM: {}",
                read(log)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let log = read(log);
        assert_eq!(status.code(), Some(0), "{log}");
        assert!(log.contains("scheduler stopped"), "{log}");
        assert!(!log.contains(JWT_SECRET));
    }
}
