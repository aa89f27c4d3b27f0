//! The end-to-end harness: one organisation's world of real processes and real neighbours. The
//! `mentor-status` binary runs as `serve` (a child process, killed when the world is dropped) and as
//! one-shot commands beside it; its neighbours are a real SMTP server (smtp-sink), the Dataverse
//! simulator standing in for the public listing, both in this process, on either backend.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use dataverse_sim::{SimConfig, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use smtp_sink::{ReceivedMessage, SmtpSink};
use uuid::Uuid;

use crate::support::{Run, Server, Setup, free_port};

/// The organisation every journey runs in.
pub const ORG: &str = "hlf";
/// The simulator's contact field that decides whether a mentor shows on the public listing.
pub const VISIBILITY_FIELD: &str = "hlf_showonwebsite";
const SECRET_ENV: &str = "MENTOR_STATUS__ORGS__HLF__DYNAMICS__CLIENT_SECRET";
/// How long anything that should happen "within seconds" may take before the test fails.
pub const SECONDS: Duration = Duration::from_secs(10);

/// Which database the world keeps its data in.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub struct World {
    pub setup: Setup,
    pub sim: Simulator,
    pub sink: SmtpSink,
    pub hooks: WebhookReceiver,
    pub client: reqwest::Client,
    server: Mutex<Option<Server>>,
    /// The integration's client secret as the configuration (environment) holds it.
    secret: Mutex<String>,
    log: PathBuf,
    /// Where API calls go: `serve`'s address (or a fleet instance's).
    base: Mutex<String>,
}

/// The operations webhook's receiver: keeps every POSTed JSON body in arrival order, answers 204.
pub struct WebhookReceiver {
    pub url: String,
    bodies: std::sync::Arc<Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    async fn start() -> WebhookReceiver {
        let bodies = std::sync::Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let kept = kept.clone();
                async move {
                    kept.lock().expect("the webhook lock").push(body);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("its address")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        WebhookReceiver { url, bodies }
    }

    /// `(event, alert kind)` of every post so far, in arrival order.
    pub fn events(&self) -> Vec<(String, String)> {
        self.bodies
            .lock()
            .expect("the webhook lock")
            .iter()
            .map(|body| {
                (
                    body["event"].as_str().unwrap_or_default().to_owned(),
                    body["alert"]["kind"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }
}

impl World {
    /// A migrated database with the organisation `ORG`, wired (configuration file and client
    /// secret) to a fresh simulator and SMTP server. Nothing is serving yet.
    pub async fn new(backend: Backend) -> World {
        let setup = match backend {
            Backend::Postgres => Setup::new().await,
            Backend::Sqlite => Setup::sqlite(),
        };
        World::with_setup(setup).await
    }

    /// The same on a given setup (e.g. a database on a private PostgreSQL cluster).
    pub async fn with_setup(setup: Setup) -> World {
        let sim = Simulator::start(SimConfig::default())
            .await
            .expect("start the Dataverse simulator");
        let sink = SmtpSink::start().expect("start smtp-sink");
        let hooks = WebhookReceiver::start().await;
        // Credentials are checked every 3 s, so "the next scheduled check" comes within seconds.
        setup.write(
            "mentor-status.toml",
            &format!(
                "[sync]\npoll_seconds = 1\ncredential_check_minutes = 0.05\n\n\
                 [smtp]\nurl = \"{}\"\nfrom = \"Likeperson <noreply@hlf.no>\"\n\n\
                 [delivery]\npoll_seconds = 1\n\n\
                 [alerts]\nwebhook_url = \"{}\"\ntick_seconds = 1\n\n\
                 [orgs.{ORG}.dynamics]\napi_base_url = \"{}\"\ntoken_url = \"{}\"\n\
                 client_id = \"{}\"\nscope = \"{}\"\nvisibility_field = \"{VISIBILITY_FIELD}\"\n",
                sink.url(),
                hooks.url,
                sim.base_url(),
                sim.token_url(),
                SimConfig::default().client_id,
                sim.scope(),
            ),
        );
        let log = setup.dir.path().join("serve.log");
        let world = World {
            setup,
            sim,
            sink,
            hooks,
            client: reqwest::Client::new(),
            server: Mutex::new(None),
            secret: Mutex::new(SimConfig::default().client_secret),
            log,
            base: Mutex::new(String::new()),
        };
        world.run(&["migrate"]).success();
        world
            .run(&["orgs", "add", "--slug", ORG, "--name", "HLF"])
            .success();
        world
    }

    /// A one-shot `mentor-status` command with the configured client secret, beside the server.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run mentor-status"))
    }

    /// A one-shot command reading `stdin` (e.g. a break-glass secret).
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        Run::with_stdin(self.command(args), stdin)
    }

    /// `mentor-status` with the test's database and the configured client secret.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.setup.command(args);
        command.env(SECRET_ENV, self.configured_secret());
        command
    }

    fn configured_secret(&self) -> String {
        self.secret.lock().expect("the secret lock").clone()
    }

    /// The operator puts `secret` into the configuration and restarts `serve` (killed, then
    /// started again with it).
    pub async fn restart_with_secret(&mut self, secret: &str) {
        *self.secret.get_mut().expect("the secret lock") = secret.to_owned();
        drop(self.server.get_mut().expect("the server lock").take());
        self.serve().await;
    }

    /// Registers one mentor with a certification valid for decades, linked to a new contact of
    /// the simulator that is not listed yet; the contact's id.
    pub fn import_mentor(&self, full_name: &str, email: &str) -> Uuid {
        let contact = Uuid::new_v4();
        self.sim.insert_contact(
            contact,
            json!({"contactid": contact.to_string(), VISIBILITY_FIELD: false})
                .as_object()
                .cloned()
                .expect("an object"),
        );
        let file = self.setup.write(
            &format!("{contact}.csv"),
            &format!(
                "full_name,email,dynamics_contact_id,certification_issued_on,certification_expires_on\n\
                 {full_name},{email},{contact},2025-01-01,2090-01-01\n"
            ),
        );
        self.run(&["import", "mentors", &file, "--org", ORG])
            .success();
        contact
    }

    /// Registers many mentors in one import, each linked to a new unlisted contact of the
    /// simulator: `(full name, email, last valid day of the certification)`. The contacts' ids, in
    /// order.
    pub fn import_mentors(&self, mentors: &[(String, String, chrono::NaiveDate)]) -> Vec<Uuid> {
        let mut csv = String::from(
            "full_name,email,dynamics_contact_id,certification_issued_on,certification_expires_on\n",
        );
        let contacts: Vec<Uuid> = mentors.iter().map(|_| Uuid::new_v4()).collect();
        for ((full_name, email, expires_on), contact) in mentors.iter().zip(&contacts) {
            self.sim.insert_contact(
                *contact,
                json!({"contactid": contact.to_string(), VISIBILITY_FIELD: false})
                    .as_object()
                    .cloned()
                    .expect("an object"),
            );
            csv.push_str(&format!(
                "{full_name},{email},{contact},2025-01-01,{expires_on}\n"
            ));
        }
        let file = self.setup.write("mentors.csv", &csv);
        self.run(&["import", "mentors", &file, "--org", ORG])
            .success();
        contacts
    }

    /// A login; `mentor` links a mentor's login to the mentor it speaks for.
    pub fn add_user(&self, email: &str, role: &str, mentor: Option<&str>) {
        let mut args = vec![
            "users", "add", "--org", ORG, "--email", email, "--role", role, "--locale", "en",
        ];
        if let Some(id) = mentor {
            args.extend(["--mentor", id]);
        }
        self.run(&args).success();
    }

    /// An API token for the login.
    pub fn token(&self, email: &str) -> String {
        self.run(&["users", "token", "--email", email])
            .success()
            .stdout
            .trim()
            .to_owned()
    }

    /// Starts `serve` (the scheduler off: the journeys move the business date themselves) and
    /// waits until it answers ready.
    pub async fn serve(&mut self) {
        let port = free_port();
        self.set_base(format!("http://127.0.0.1:{port}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the server log");
        *self.server.get_mut().expect("the server lock") = Some(Server(
            self.command(&["serve"])
                .env("MENTOR_STATUS__HTTP__BIND", format!("127.0.0.1:{port}"))
                .env("MENTOR_STATUS__SCHEDULER__ENABLED", "false")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start mentor-status serve"),
        ));
        let url = format!("{}/readyz", self.base());
        self.eventually("serve answers /readyz", || async {
            matches!(self.client.get(&url).send().await, Ok(r) if r.status() == StatusCode::OK)
        })
        .await;
    }

    /// Where API calls go.
    pub fn base(&self) -> String {
        self.base.lock().expect("the base lock").clone()
    }

    pub fn set_base(&self, base: String) {
        *self.base.lock().expect("the base lock") = base;
    }

    /// What the server wrote to standard error so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `check` every 50 ms until it holds; fails after [`SECONDS`] (or when the server died),
    /// naming `what` and showing the server's log.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        testkit::poll_until_watching(what, SECONDS, check, || self.exited(), || self.server_log())
            .await
    }

    /// How `serve` ended, if it has.
    fn exited(&self) -> Option<String> {
        let mut server = self.server.lock().expect("the server lock");
        let Server(child) = server.as_mut()?;
        child
            .try_wait()
            .expect("poll the server")
            .map(|status| format!("serve exited with {status}"))
    }

    /// An API call as `token`: the status and the JSON body (`null` when there is none).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base()))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("the server answers");
        let status = reply.status();
        let text = reply.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        };
        (status, body)
    }

    /// As the admin `admin_token`: email on for the organisation, in English.
    pub async fn enable_email(&self, admin_token: &str) {
        let (status, settings) = self
            .api(
                Method::PUT,
                "/api/v1/org/settings",
                admin_token,
                Some(json!({"email_enabled": true, "locale": "en"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        assert_eq!(settings["email_enabled"], true, "{settings}");
    }

    /// GET that must answer 200; its body.
    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.api(Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The mentor's id, found by address through the API.
    pub async fn mentor_id(&self, email: &str, token: &str) -> String {
        let page = self.get("/api/v1/mentors?limit=200", token).await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["email"] == email)
            .unwrap_or_else(|| panic!("no mentor {email} in {page}"))["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// Whether the contact shows on the public listing (the simulator's visibility field).
    pub fn listed(&self, contact: Uuid) -> bool {
        self.sim.contact(contact).expect("the contact exists")[VISIBILITY_FIELD] == json!(true)
    }

    /// Waits until the listing shows (or hides) the contact; how long it took.
    pub async fn until_listed(&self, contact: Uuid, listed: bool) -> Duration {
        let what = format!("contact {contact} listed = {listed}");
        self.eventually(&what, || async { self.listed(contact) == listed })
            .await
    }

    /// Every email received so far to `to`.
    pub fn emails_to(&self, to: &str) -> Vec<ReceivedMessage> {
        self.sink
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r == to))
            .collect()
    }

    /// The subjects of every email received so far to `to`, sorted.
    pub fn subjects(&self, to: &str) -> Vec<String> {
        let mut subjects: Vec<String> = self
            .emails_to(to)
            .iter()
            .map(|m| m.subject().unwrap_or_default())
            .collect();
        subjects.sort();
        subjects
    }

    /// Exactly `count` emails arrived, each with a Message-ID of its own: nothing else, nothing twice.
    pub fn assert_emails_sent_once(&self, count: usize) {
        let messages = self.sink.messages();
        assert_eq!(messages.len(), count, "nothing else was sent");
        let ids: std::collections::HashSet<Option<String>> =
            messages.iter().map(|m| m.message_id()).collect();
        assert_eq!(ids.len(), count, "no Message-ID twice");
    }

    /// Waits until an email to `to` whose subject contains `subject` arrives; returns it.
    pub async fn email_arrives(&self, to: &str, subject: &str) -> ReceivedMessage {
        let what = format!("an email to {to} about {subject:?}");
        self.eventually(&what, || async { self.find_email(to, subject).is_some() })
            .await;
        self.find_email(to, subject).expect("it arrived")
    }

    fn find_email(&self, to: &str, subject: &str) -> Option<ReceivedMessage> {
        self.emails_to(to)
            .into_iter()
            .find(|m| m.subject().is_some_and(|s| s.contains(subject)))
    }

    /// Waits until the server's email queue is empty: everything queued so far has been sent.
    pub async fn emails_settled(&self) {
        self.queue_empty("mentor_status_email_queue_pending").await;
    }

    /// Waits until the server's webhook queue is empty: every alert event so far has been posted.
    pub async fn webhooks_settled(&self) {
        self.queue_empty("mentor_status_webhook_queue_pending")
            .await;
    }

    async fn queue_empty(&self, gauge: &str) {
        let url = format!("{}/metrics", self.base());
        let empty = format!("{gauge} 0");
        self.eventually(&empty, || async {
            let Ok(reply) = self.client.get(&url).send().await else {
                return false;
            };
            let text = reply.text().await.unwrap_or_default();
            text.lines().any(|line| line == empty)
        })
        .await;
    }

    /// `expiry run --as-of DATE --allow-future` for the organisation; its JSON report.
    pub fn expiry_run(&self, as_of: &str) -> Value {
        self.run(&[
            "--json",
            "expiry",
            "run",
            "--org",
            ORG,
            "--as-of",
            as_of,
            "--allow-future",
        ])
        .success()
        .json()
    }
}
