//! The `mentor-status` binary, run as a user runs it, each test against its own PostgreSQL database.

mod support;

use support::{JWT_SECRET, Run, Server, Setup, free_port};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

impl Setup {
    /// A migrated database with organisation `hlf` and coordinator `kari@example.no`.
    fn with_org_and_coordinator(&self) {
        self.run(&["migrate"]).success();
        self.run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
            .success();
        self.run(&[
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
    }

    async fn mentor_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM mentors")
            .fetch_one(&mut self.sql().await)
            .await
            .expect("count mentors")
    }
}

#[tokio::test]
async fn migrate_applies_the_schema_and_is_idempotent() {
    let setup = Setup::new().await;
    let first = setup.run(&["migrate"]).success();
    assert!(first.stdout.contains("applied"), "{first:#?}");
    let again = setup.run(&["migrate"]).success();
    assert!(again.stdout.contains("already current"), "{again:#?}");
    let json = setup.run(&["migrate", "--json"]).success();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON object");
    assert_eq!(report["applied_now"], 0);
    assert_eq!(report["applied"], report["known"]);
}

#[tokio::test]
async fn commands_refuse_an_unmigrated_database() {
    let setup = Setup::new().await;
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .fails_with(2, &["mentor-status migrate"]);
}

#[tokio::test]
async fn orgs_add_creates_once_and_refuses_a_duplicate_slug() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    let created = setup
        .run(&[
            "--json",
            "orgs",
            "add",
            "--slug",
            "hlf",
            "--name",
            "HLF",
            "--timezone",
            "Europe/Oslo",
        ])
        .success();
    let org: serde_json::Value = serde_json::from_str(&created.stdout).expect("one JSON object");
    assert_eq!(org["slug"], "hlf");
    assert_eq!(org["timezone"], "Europe/Oslo");

    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "Another"])
        .fails_with(1, &["`hlf` already exists"]);
    setup
        .run(&["orgs", "add", "--slug", "HLF!", "--name", "x"])
        .fails_with(2, &["slug"]);
}

#[tokio::test]
async fn users_add_stores_only_an_argon2id_hash_of_the_password() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    let password = "correct horse battery staple";
    let added = setup
        .run_with_stdin(
            &[
                "users",
                "add",
                "--org",
                "hlf",
                "--email",
                "Kari@Example.no",
                "--role",
                "coordinator",
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
        .success();
    assert!(added.stdout.contains("kari@example.no"), "{added:#?}");
    assert!(!added.stdout.contains(password) && !added.stderr.contains(password));

    let hash: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
            .bind("kari@example.no")
            .fetch_one(&mut setup.sql().await)
            .await
            .expect("the user exists");
    let hash = hash.expect("a password hash is stored");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(password));

    setup
        .run_with_stdin(
            &[
                "users",
                "add",
                "--org",
                "hlf",
                "--email",
                "ola@example.no",
                "--role",
                "admin",
                "--password-stdin",
            ],
            "short\n",
        )
        .fails_with(2, &["at least 12"]);
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "kari@example.no",
            "--role",
            "admin",
        ])
        .fails_with(1, &["already exists"]);
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "nope",
            "--email",
            "per@example.no",
            "--role",
            "admin",
        ])
        .fails_with(1, &["no organisation", "nope"]);
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "per@example.no",
            "--role",
            "coordinator",
            "--mentor",
            "0190f5e4-0000-7000-8000-000000000000",
        ])
        .fails_with(2, &["--role mentor"]);
    setup
        .run(&[
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "per@example.no",
            "--role",
            "mentor",
            "--mentor",
            "0190f5e4-0000-7000-8000-000000000000",
        ])
        .fails_with(1, &["has no mentor"]);
}

#[tokio::test]
async fn users_token_prints_a_jwt_naming_the_user() {
    let setup = Setup::new().await;
    setup.with_org_and_coordinator();
    let minted = setup
        .run(&[
            "users",
            "token",
            "--email",
            "kari@example.no",
            "--ttl",
            "30m",
        ])
        .success();
    let token = minted.stdout.trim();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .expect("the payload is base64url");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("the payload is JSON");
    let subject: String = sqlx::query_scalar("SELECT auth_subject FROM users WHERE email = $1")
        .bind("kari@example.no")
        .fetch_one(&mut setup.sql().await)
        .await
        .expect("the user exists");
    assert_eq!(claims["sub"], subject);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 30 * 60);

    setup
        .run(&[
            "users",
            "token",
            "--email",
            "kari@example.no",
            "--ttl",
            "31d",
        ])
        .fails_with(2, &["30d"]);
    setup
        .run(&["users", "token", "--email", "nobody@example.no"])
        .fails_with(1, &["nobody@example.no"]);
    setup
        .command(&["users", "token", "--email", "kari@example.no"])
        .env_remove("MENTOR_STATUS__AUTH__JWT_SECRET")
        .output()
        .map(Run::of)
        .expect("run mentor-status")
        .fails_with(2, &["MENTOR_STATUS__AUTH__JWT_SECRET"]);
}

const HEADER: &str = "full_name,email,phone,listed_publicly,dynamics_contact_id,dynamics_key,certification_issued_on,certification_expires_on";

#[tokio::test]
async fn an_import_with_bad_rows_names_each_and_writes_nothing() {
    let setup = Setup::new().await;
    setup.with_org_and_coordinator();
    let csv = setup.write(
        "mentors.csv",
        &format!(
            "{HEADER}\n\
             Kari Nordmann,kari.n@example.no,,,,,2026-01-01,2099-12-31\n\
             Ola Nordmann,not-an-email,,,,,2026-01-01,2099-12-31\n\
             Per Hansen,per@example.no,,perhaps,,,,\n\
             Liv Berg,liv@example.no,,,,,2026-01-01,2026-13-01\n\
             Eva Dahl,kari.n@example.no,,,,,,\n"
        ),
    );
    let run = setup
        .run(&["import", "mentors", &csv, "--org", "hlf"])
        .fails_with(
            1,
            &[
                "nothing was written",
                "line 3: email",
                "line 4: listed_publicly",
                "line 5: certification_expires_on",
                "line 6: email: repeats line 2",
            ],
        );
    assert!(
        !run.stderr.contains("line 2:"),
        "the good row is not blamed: {run:#?}"
    );
    assert_eq!(setup.mentor_count().await, 0);
}

#[tokio::test]
async fn a_good_import_registers_every_row_and_a_dry_run_none() {
    let setup = Setup::new().await;
    setup.with_org_and_coordinator();
    let csv = setup.write(
        "mentors.csv",
        &format!(
            "{HEADER}\n\
             Kari Nordmann,kari.n@example.no,+47 22 33 44 55,yes,,M-1,2026-01-01,2099-12-31\n\
             Ola Nordmann,ola@example.no,,no,6f1d0c3e-3a55-4a43-9e53-8f1f3f1f0b6e,,2020-01-01,2020-12-31\n\
             Per Hansen,per@example.no,,,,,,\n"
        ),
    );
    let dry = setup
        .run(&["import", "mentors", &csv, "--org", "hlf", "--dry-run"])
        .success();
    assert!(dry.stdout.contains("nothing was written"), "{dry:#?}");
    assert_eq!(setup.mentor_count().await, 0);

    let imported = setup
        .run(&["import", "mentors", &csv, "--org", "hlf"])
        .success();
    assert!(
        imported
            .stdout
            .contains("imported 3 mentors into hlf (1 active, 2 certification_expired)"),
        "{imported:#?}"
    );
    let statuses: Vec<(String, String)> =
        sqlx::query_as("SELECT email, status FROM mentors ORDER BY email")
            .fetch_all(&mut setup.sql().await)
            .await
            .expect("read mentors");
    assert_eq!(
        statuses,
        [
            ("kari.n@example.no".to_owned(), "active".to_owned()),
            (
                "ola@example.no".to_owned(),
                "certification_expired".to_owned()
            ),
            (
                "per@example.no".to_owned(),
                "certification_expired".to_owned()
            ),
        ]
    );

    // Importing the same file again would duplicate every email: refused as a whole.
    setup
        .run(&["import", "mentors", &csv, "--org", "hlf"])
        .fails_with(1, &["line 2: email", "line 4: email"]);
    assert_eq!(setup.mentor_count().await, 3);
}

#[tokio::test]
async fn an_import_with_a_bad_header_is_a_usage_error() {
    let setup = Setup::new().await;
    setup.with_org_and_coordinator();
    let unknown = setup.write(
        "unknown.csv",
        "full_name,email,shoe_size\nKari,kari@example.no,38\n",
    );
    setup
        .run(&["import", "mentors", &unknown, "--org", "hlf"])
        .fails_with(2, &["unknown column `shoe_size`"]);
    let missing = setup.write("missing.csv", "full_name,phone\nKari,12345678\n");
    setup
        .run(&["import", "mentors", &missing, "--org", "hlf"])
        .fails_with(2, &["`email`", "required"]);
    setup
        .run(&["import", "mentors", "no-such-file.csv", "--org", "hlf"])
        .fails_with(2, &["no-such-file.csv"]);
}

#[tokio::test]
async fn configuration_errors_exit_2_saying_what_is_wrong() {
    let setup = Setup::new().await;
    let unknown_key = setup.write(
        "unknown.toml",
        "database_urll = \"postgres://x\"\n[http]\nbind = \"127.0.0.1:1\"\n",
    );
    setup
        .run(&["--config", &unknown_key, "migrate"])
        .fails_with(2, &["database_urll"]);
    let unknown_section_key = setup.write("section.toml", "[http]\nport = 8080\n");
    setup
        .run(&["--config", &unknown_section_key, "migrate"])
        .fails_with(2, &["port"]);

    let file_secret = "a-secret-written-into-the-file-0123456789";
    let secret_in_file = setup.write(
        "secret.toml",
        &format!("[auth]\njwt_secret = \"{file_secret}\"\n"),
    );
    let run = setup
        .run(&["--config", &secret_in_file, "migrate"])
        .fails_with(2, &["jwt_secret", "MENTOR_STATUS__AUTH__JWT_SECRET"]);
    assert!(!run.stderr.contains(file_secret) && !run.stdout.contains(file_secret));

    setup
        .command(&["migrate"])
        .env("MENTOR_STATUS__DATABASE_URL", "mysql://h/db")
        .output()
        .map(Run::of)
        .expect("run mentor-status")
        .fails_with(2, &["neither a sqlite://", "MENTOR_STATUS__DATABASE_URL"]);

    // Delivery settings are checked before anything starts, naming the setting.
    let bad_smtp_url = setup.write(
        "bad-smtp.toml",
        "[smtp]\nurl = \"not a url\"\nfrom = \"HLF <noreply@hlf.no>\"\n",
    );
    setup
        .run(&["--config", &bad_smtp_url, "serve"])
        .fails_with(2, &["smtp.url"]);
    let no_from = setup.write("no-from.toml", "[smtp]\nurl = \"smtp://127.0.0.1:2525\"\n");
    setup
        .run(&["--config", &no_from, "serve"])
        .fails_with(2, &["smtp.from is required"]);
    let bad_from = setup.write(
        "bad-from.toml",
        "[smtp]\nurl = \"smtp://127.0.0.1:2525\"\nfrom = \"nobody\"\n",
    );
    setup
        .run(&["--config", &bad_from, "serve"])
        .fails_with(2, &["smtp.from"]);
    let smtp_password = "smtp-password-in-the-file-1234";
    let password_in_file = setup.write(
        "smtp-password.toml",
        &format!("[smtp]\nurl = \"smtp://127.0.0.1:2525\"\npassword = \"{smtp_password}\"\n"),
    );
    let run = setup
        .run(&["--config", &password_in_file, "serve"])
        .fails_with(2, &["smtp.password", "MENTOR_STATUS__SMTP__PASSWORD"]);
    assert!(!run.stderr.contains(smtp_password));
    let alerts_without_smtp = setup.write("ops.toml", "[alerts]\nemail = \"ops@hlf.no\"\n");
    setup
        .run(&["--config", &alerts_without_smtp, "serve"])
        .fails_with(2, &["alerts.email needs a mail server"]);
    let bad_webhook = setup.write("hook.toml", "[alerts]\nwebhook_url = \"ftp://x\"\n");
    setup
        .run(&["--config", &bad_webhook, "serve"])
        .fails_with(2, &["alerts.webhook_url"]);

    setup
        .run(&["--config", "missing.toml", "migrate"])
        .fails_with(2, &["missing.toml", "does not exist"]);
    setup
        .run(&["orgs", "add", "--slug", "hlf"])
        .fails_with(2, &["--name"]);
}

#[tokio::test]
async fn the_default_configuration_file_is_read_and_the_environment_wins() {
    let setup = Setup::new().await;
    setup.write(
        "mentor-status.toml",
        "database_url = \"postgres://nowhere.invalid/db\"\n[log]\nformat = \"json\"\n",
    );
    // The environment's database URL wins over the file's.
    setup.run(&["migrate"]).success();
    setup.write("mentor-status.toml", "[log]\nformat = \"yaml\"\n");
    setup.run(&["migrate"]).fails_with(2, &["yaml"]);
}

#[tokio::test]
async fn the_signing_secret_never_appears_in_any_output() {
    let setup = Setup::new().await;
    let mut runs = vec![
        setup.run(&["migrate"]),
        setup.run(&["--json", "orgs", "add", "--slug", "hlf", "--name", "HLF"]),
        setup.run(&[
            "--json",
            "users",
            "add",
            "--org",
            "hlf",
            "--email",
            "kari@example.no",
            "--role",
            "coordinator",
        ]),
        setup.run(&["users", "token", "--email", "kari@example.no"]),
        setup.run(&["--json", "users", "token", "--email", "kari@example.no"]),
        setup.run(&["users", "token", "--email", "nobody@example.no"]),
    ];
    let short = setup
        .command(&["users", "token", "--email", "kari@example.no"])
        .env("MENTOR_STATUS__AUTH__JWT_SECRET", "too-short-secret")
        .output()
        .map(Run::of)
        .expect("run mentor-status")
        .fails_with(2, &["at least 32 bytes"]);
    assert!(
        !short.stderr.contains("too-short-secret") && !short.stdout.contains("too-short-secret")
    );
    let numeric_secret = "12345678901234567890123456789012345";
    let numeric = setup
        .command(&["users", "token", "--email", "kari@example.no"])
        .env("MENTOR_STATUS__AUTH__JWT_SECRET", numeric_secret)
        .env("MENTOR_STATUS__LOG__LEVEL", "trace")
        .output()
        .map(Run::of)
        .expect("run mentor-status")
        .success();
    assert!(!numeric.stderr.contains(numeric_secret) && !numeric.stdout.contains(numeric_secret));
    runs.push(setup.run(&["--config", "missing.toml", "serve"]));
    for run in runs {
        assert!(
            !run.stdout.contains(JWT_SECRET) && !run.stderr.contains(JWT_SECRET),
            "the secret leaked: {run:#?}"
        );
    }
}

#[tokio::test]
async fn serve_answers_health_checks_and_stops_on_sigterm() {
    let setup = Setup::new().await;
    setup.run(&["migrate"]).success();
    let port = free_port();
    let log = setup.dir.path().join("serve.log");
    let mut server = Server(
        setup
            .command(&["serve"])
            .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the server log"))
            .spawn()
            .expect("start the server"),
    );

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            Ok(response) => break response,
            Err(_) if Instant::now() < deadline => {
                if let Some(status) = server.0.try_wait().expect("poll the server") {
                    panic!("the server exited with {status}: {}", read(&log));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!(
                "the server did not answer within 30 s: {e}; log: {}",
                read(&log)
            ),
        }
    };
    assert_eq!(health.status(), 200);
    let unauthenticated = client
        .get(format!("http://127.0.0.1:{port}/api/v1/me"))
        .send()
        .await
        .expect("request /api/v1/me");
    assert_eq!(unauthenticated.status(), 401);

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
            read(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = read(&log);
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!("listening on http://127.0.0.1:{port}")),
        "{log}"
    );
    assert!(!log.contains(JWT_SECRET));
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_database_or_a_missing_secret() {
    let setup = Setup::new().await;
    setup
        .run(&["serve"])
        .fails_with(2, &["mentor-status migrate"]);
    setup.run(&["migrate"]).success();
    setup
        .command(&["serve"])
        .env_remove("MENTOR_STATUS__AUTH__JWT_SECRET")
        .output()
        .map(Run::of)
        .expect("run mentor-status")
        .fails_with(2, &["MENTOR_STATUS__AUTH__JWT_SECRET"]);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A production build (`--no-default-features`) has no demo: its two commands are refused as usage
/// errors that name the missing feature, before any database is opened.
#[cfg(not(feature = "demo"))]
#[test]
fn without_the_demo_feature_the_demo_commands_are_usage_errors() {
    let setup = Setup::sqlite();
    for args in [&["serve", "--demo"][..], &["dev", "dataverse-sim"]] {
        setup
            .run(args)
            .fails_with(2, &[args.join(" ").as_str(), "cargo feature `demo`"]);
    }
    assert!(
        !setup.dir.path().join("data").exists(),
        "no database is created"
    );
}
