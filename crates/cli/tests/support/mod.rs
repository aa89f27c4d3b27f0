//! What the CLI test binaries share: a working directory and a database per test, and the real
//! `mentor-status` binary run in them. Each binary uses a part of it, hence the allowance.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

use sqlx::{Connection, PgConnection};
use testkit::TestDatabase;

pub const JWT_SECRET: &str = "cli-test-signing-secret-7f3a9c1e5b2d4f6a8c0e";

/// A working directory and a database for one test.
pub struct Setup {
    /// PostgreSQL; `None` for the default SQLite file in the working directory.
    pub db: Option<TestDatabase>,
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// A PostgreSQL database of its own.
    pub async fn new() -> Setup {
        Setup {
            db: Some(TestDatabase::create().await),
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// PostgreSQL database `db` (e.g. on a private cluster the test restarts).
    pub fn on(db: TestDatabase) -> Setup {
        Setup {
            db: Some(db),
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// Nothing configured: the default SQLite database, `./data/mentor-status.db` in the (empty)
    /// working directory.
    pub fn sqlite() -> Setup {
        Setup {
            db: None,
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    fn postgres(&self) -> &TestDatabase {
        self.db
            .as_ref()
            .expect("this test needs a PostgreSQL setup (Setup::new)")
    }

    /// `mentor-status` with this test's database and signing secret in its environment, started in
    /// an empty directory (no `mentor-status.toml` of the developer's), with no `MENTOR_STATUS__*`
    /// variable of the developer's.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mentor-status"));
        for (key, _) in std::env::vars_os() {
            if key
                .to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("MENTOR_STATUS__")
            {
                command.env_remove(key);
            }
        }
        if let Some(db) = &self.db {
            command.env("MENTOR_STATUS__DATABASE_URL", db.url());
        }
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("MENTOR_STATUS__AUTH__JWT_SECRET", JWT_SECRET)
            .env("MENTOR_STATUS__DATABASE_MAX_CONNECTIONS", "2")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().expect("run mentor-status"))
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        Run::with_stdin(self.command(args), stdin)
    }

    /// A user of `org` with `role` (through `users add`), and their API token.
    pub fn login(&self, org: &str, email: &str, role: &str) -> String {
        self.run(&[
            "users", "add", "--org", org, "--email", email, "--role", role,
        ])
        .success();
        self.run(&["users", "token", "--email", email])
            .success()
            .stdout
            .trim()
            .to_owned()
    }

    pub fn write(&self, name: &str, contents: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path.to_str().expect("UTF-8 path").to_owned()
    }

    pub async fn sql(&self) -> PgConnection {
        PgConnection::connect(self.postgres().url())
            .await
            .expect("connect to the test database")
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&mut self.sql().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn lines(&self, sql: &str) -> Vec<String> {
        sqlx::query_scalar(sql)
            .fetch_all(&mut self.sql().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `command` with `stdin` on its standard input.
    pub fn with_stdin(mut command: Command, stdin: &str) -> Run {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mentor-status");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(stdin.as_bytes())
            .expect("write to stdin");
        Run::of(child.wait_with_output().expect("wait for mentor-status"))
    }

    pub fn of(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32, stderr_contains: &[&str]) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}: {self:#?}"
        );
        for needle in stderr_contains {
            assert!(
                self.stderr.contains(needle),
                "stderr should mention {needle:?}: {self:#?}"
            );
        }
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("one JSON object: {e}: {self:#?}"))
    }
}

/// A server process, killed when the test ends (also when it fails before stopping it).
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// GET `url` with a bearer token; the JSON body.
pub async fn get_json(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    token: &str,
) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON body")
}
