//! `serve --demo` on both backends — on SQLite with nothing configured, in an empty directory — and
//! what one SQLite file allows: one server, with one-shot commands beside it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{ChildStdout, Stdio};
use std::time::{Duration, Instant};

use dataverse::{ClientConfig, PageRequest};
use secrecy::SecretString;
use serde_json::json;
use support::{Server, Setup, free_port, get_json};

/// What the demo's banner says: the dashboard and its login, the coordinator's token and how to
/// reach the simulator.
struct Banner {
    dashboard: String,
    email: String,
    password: String,
    token: String,
    sim_url: String,
    sim_token_url: String,
    client_id: String,
    client_secret: String,
}

/// Read the banner from the server's standard output, then keep draining it as a terminal would.
fn read_banner(stdout: ChildStdout) -> Option<Banner> {
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut sim = None;
    let mut token_endpoint = None;
    let mut token = None;
    let mut dashboard = None;
    let mut login = None;
    for line in lines.by_ref() {
        let line = line.trim().to_owned();
        if let Some(rest) = line.strip_prefix("Dashboard") {
            dashboard = Some(rest.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("demo login") {
            // `<email> / <password>`
            login = rest
                .trim()
                .split_once(" / ")
                .map(|(e, p)| (e.to_owned(), p.to_owned()));
        } else if let Some(rest) = line.strip_prefix("Dynamics stand-in") {
            sim = rest.split_whitespace().next().map(str::to_owned);
        } else if let Some(rest) = line.strip_prefix("its token endpoint") {
            // `<url> (client <id>, secret <secret>)`
            let words: Vec<&str> = rest
                .split([' ', '(', ')', ','])
                .filter(|w| !w.is_empty())
                .collect();
            token_endpoint = Some((
                words[0].to_owned(),
                words[2].to_owned(),
                words[4].to_owned(),
            ));
        } else if let Some(value) = line.strip_prefix("export TOKEN=") {
            token = Some(value.to_owned());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let (sim_token_url, client_id, client_secret) = token_endpoint?;
    let (email, password) = login?;
    Some(Banner {
        dashboard: dashboard?,
        email,
        password,
        token: token?,
        sim_url: sim?,
        sim_token_url,
        client_id,
        client_secret,
    })
}

/// Start `serve --demo` in `setup`; the server and its banner.
async fn start_demo(setup: &Setup, name: &str) -> (Server, Banner, String) {
    let port = free_port();
    let log = setup.dir.path().join(format!("{name}.log"));
    let mut child = setup
        .command(&["serve", "--demo"])
        .env_remove("MENTOR_STATUS__AUTH__JWT_SECRET")
        .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("MENTOR_STATUS__SCHEDULER__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let banner = tokio::task::spawn_blocking(move || read_banner(stdout))
        .await
        .unwrap()
        .unwrap_or_else(|| {
            panic!(
                "no banner printed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    (server, banner, format!("http://127.0.0.1:{port}"))
}

/// Whether the simulator shows the contact `contact_id` on the public website.
async fn shown_on_website(banner: &Banner, contact_id: &str) -> bool {
    let client = dataverse::Client::new(ClientConfig::new(
        banner.sim_url.clone(),
        banner.sim_token_url.clone(),
        banner.client_id.clone(),
        SecretString::from(banner.client_secret.clone()),
        format!("{}/.default", banner.sim_url),
    ))
    .expect("a client for the demo simulator");
    let page = client
        .read_page(&PageRequest::First {
            entity_set: "contacts".into(),
            select: vec![
                "contactid".into(),
                dataverse_sim::demo::VISIBILITY_FIELD.into(),
            ],
            filter: None,
            page_size: 100,
        })
        .await
        .expect("read the contacts from the simulator");
    let contact = page
        .records
        .iter()
        .find(|c| c["contactid"] == json!(contact_id))
        .unwrap_or_else(|| panic!("no contact {contact_id} among {:?}", page.records));
    contact[dataverse_sim::demo::VISIBILITY_FIELD] == json!(true)
}

/// Signs in to the dashboard at `dashboard` as a browser would (the login form's CSRF cookie and
/// field, then the form); the status of the answer.
async fn dashboard_sign_in(dashboard: &str, email: &str, password: &str) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{dashboard}login"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let cookie = form
        .headers()
        .get("set-cookie")
        .expect("the login form sets its CSRF cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = form.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let at = body.find(marker).expect("a csrf field") + marker.len();
    let csrf = &body[at..at + body[at..].find('"').unwrap()];
    client
        .post(format!("{dashboard}login"))
        .header("cookie", cookie)
        .form(&[("csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
}

/// `serve --demo` on an empty database: ready, its banner's dashboard login and token work, the demo
/// mentors are listed, a pause hides the mentor in the simulator and a resume shows them again; a
/// second start creates nothing twice and gives a new dashboard password.
async fn serve_demo_starts_empty_and_a_pause_hides_the_mentor(setup: Setup) {
    let client = reqwest::Client::new();
    let mut chosen: Option<(String, String)> = None;
    let mut earlier_password: Option<String> = None;
    for start in 0..2 {
        let (server, banner, base) = start_demo(&setup, &format!("demo-{start}")).await;
        let ready = client.get(format!("{base}/readyz")).send().await;
        assert!(
            ready.as_ref().is_ok_and(|r| r.status() == 200),
            "not ready: {ready:?}"
        );
        assert_eq!(banner.dashboard, format!("{base}/"));
        assert_eq!(
            dashboard_sign_in(&banner.dashboard, &banner.email, &banner.password).await,
            reqwest::StatusCode::SEE_OTHER,
            "the printed demo login signs in"
        );
        if let Some(old) = earlier_password.replace(banner.password.clone()) {
            assert_ne!(old, banner.password);
            assert_eq!(
                dashboard_sign_in(&banner.dashboard, &banner.email, &old).await,
                reqwest::StatusCode::UNAUTHORIZED,
                "the last start's password no longer works"
            );
        }
        let mentors = get_json(
            &client,
            format!("{base}/api/v1/mentors?limit=200"),
            &banner.token,
        )
        .await;
        let items = mentors["items"].as_array().unwrap();
        assert_eq!(items.len(), 50, "created once (start {start})");
        assert!(
            items
                .iter()
                .any(|m| m["status"] == "paused" && !m["resume_on"].is_null())
        );
        let (id, contact_id) = chosen
            .get_or_insert_with(|| {
                let mentor = items
                    .iter()
                    .find(|m| {
                        m["status"] == "active"
                            && m["certification"]["days_left"].as_i64() > Some(30)
                    })
                    .unwrap();
                (
                    mentor["id"].as_str().unwrap().to_owned(),
                    mentor["dynamics_contact_id"].as_str().unwrap().to_owned(),
                )
            })
            .clone();
        let pausing = start == 0;
        let url = format!("{base}/api/v1/mentors/{id}");
        let reply = client
            .post(format!(
                "{url}/{}",
                if pausing { "pause" } else { "resume" }
            ))
            .bearer_auth(&banner.token)
            .json(&json!({"reason": "ferie"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{:?}", reply.text().await);
        let deadline = Instant::now() + Duration::from_secs(10);
        while shown_on_website(&banner, &contact_id).await == pausing {
            assert!(
                Instant::now() < deadline,
                "the simulator did not follow within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The relay records the push just after the simulator has it.
        loop {
            let mentor = get_json(&client, &url, &banner.token).await;
            if mentor["sync"]["state"] == "in_sync" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not recorded as in sync: {mentor}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_sqlite_in_an_empty_directory() {
    serve_demo_starts_empty_and_a_pause_hides_the_mentor(Setup::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_on_postgres() {
    serve_demo_starts_empty_and_a_pause_hides_the_mentor(Setup::new().await).await;
}

/// One server per SQLite file: a second `serve` on it exits at once, saying why; a one-shot
/// command (here a manual expiry run) works beside the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let setup = Setup::sqlite();
    let (_server, banner, base) = start_demo(&setup, "first").await;
    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let second = setup
        .command(&["serve"])
        .env(
            "MENTOR_STATUS__HTTP__BIND",
            format!("127.0.0.1:{}", free_port()),
        )
        .output()
        .map(support::Run::of)
        .expect("run a second server");
    let second = second.fails_with(1, &["already served by another mentor-status process"]);
    assert!(
        second.stderr.contains("data/mentor-status.db") && second.stderr.contains("PostgreSQL"),
        "names the file and the way to several instances: {second:#?}"
    );

    let run = setup
        .run(&["--json", "expiry", "run", "--org", "demo"])
        .success();
    assert_eq!(run.json()["runs"][0]["outcome"], "succeeded", "{run:#?}");
    // The server still answers after sharing the file.
    let runs = get_json(&client, format!("{base}/api/v1/runs"), &banner.token).await;
    assert!(!runs["items"].as_array().unwrap().is_empty(), "{runs}");
}

/// With nothing configured, `migrate` creates the default SQLite database in `./data` and a second
/// run finds nothing to do; the other commands then work on it.
#[test]
fn migrate_creates_the_default_sqlite_database() {
    let setup = Setup::sqlite();
    setup.run(&["migrate"]).success();
    assert!(setup.dir.path().join("data/mentor-status.db").is_file());
    setup.run(&["migrate"]).success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF"])
        .success();
    setup
        .run(&["orgs", "add", "--slug", "hlf", "--name", "HLF again"])
        .fails_with(1, &["hlf"]);
}
