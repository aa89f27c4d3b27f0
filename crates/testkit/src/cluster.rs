//! A private PostgreSQL server per test, for faults a shared server cannot give: the test restarts it,
//! or stops it and starts it again, to check what the code under test does when "the database
//! restarted". The machine's shared server (`TEST_DATABASE_URL`) is never touched.
//!
//! The server runs from the installed PostgreSQL binaries (`pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`) on a free port of 127.0.0.1, with its data, socket and log in a
//! temporary directory that is removed when the [`PrivateCluster`] drops. A test fails with a clear
//! message when PostgreSQL is not installed; it never skips.
//!
//! The methods block (starting takes about a second). An async test may call them directly; when
//! tasks of the same runtime must keep running meanwhile (a server under test), use
//! `#[tokio::test(flavor = "multi_thread")]` and `tokio::task::block_in_place`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use sqlx::{Connection, Executor, PgConnection};

/// Lines of `postgres.log` shown when the server fails to start or stop.
const LOG_TAIL_LINES: usize = 30;

/// Another process may take the free port before the server binds it; so many ports are tried.
const START_ATTEMPTS: usize = 3;

/// A running PostgreSQL server owned by one test, removed (stopped, its files deleted) on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    bindir: PathBuf,
    /// Holds `data/`, `postgres.log` and the Unix socket.
    dir: PathBuf,
    port: u16,
    /// initdb and pg_ctl refuse to run as root; as root they run as the `postgres` user.
    as_postgres: bool,
}

impl PrivateCluster {
    /// Create and start a new server, with trust authentication for the `postgres` superuser.
    pub fn start() -> PrivateCluster {
        let bindir = postgres_bindir();
        let as_postgres = current_uid() == 0;
        let parent = if as_postgres {
            // Not $TMPDIR: it may be somewhere the postgres user cannot reach.
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = parent.join(format!(
            "mentor-status-cluster-{}",
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        // From here on, a panic drops the value, which removes the directory.
        let mut cluster = PrivateCluster {
            bindir,
            dir,
            port: free_port(),
            as_postgres,
        };
        fs::set_permissions(&cluster.dir, fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", cluster.dir.display()));
        if as_postgres {
            let (uid, gid) = (id_of("-u", "postgres"), id_of("-g", "postgres"));
            std::os::unix::fs::chown(&cluster.dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", cluster.dir.display()));
        }

        let data = cluster.data_dir();
        let initdb = run(cluster.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]));
        if !initdb.status.success() {
            panic!(
                "initdb {} failed:\n{}",
                data.display(),
                String::from_utf8_lossy(&initdb.stderr)
            );
        }

        let mut attempt = 1;
        loop {
            let started = run(&mut cluster.pg_ctl("start", &[]));
            if started.status.success() {
                return cluster;
            }
            let port_taken = cluster
                .log_tail()
                .contains("could not create any TCP/IP sockets");
            if !port_taken || attempt == START_ATTEMPTS {
                cluster.fail("start", &started);
            }
            cluster.port = free_port();
            attempt += 1;
        }
    }

    /// URL of the `postgres` database, as the superuser.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// URL of the database `name` on this server, as the superuser.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Create an empty database; returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let mut admin = PgConnection::connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("connect to the private cluster: {e}"));
        admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap_or_else(|e| panic!("create database {name} on the private cluster: {e}"));
        admin.close().await.ok();
        self.database_url(name)
    }

    /// Restart the server on the same port (fast shutdown: open connections are cut, as in a
    /// database failover); returns when it accepts connections again.
    pub fn restart(&self) {
        let restarted = run(&mut self.pg_ctl("restart", &["-m", "fast"]));
        if !restarted.status.success() {
            self.fail("restart", &restarted);
        }
    }

    /// Stop the server (fast shutdown) until [`PrivateCluster::start_again`].
    pub fn stop(&self) {
        let stopped = run(&mut self.pg_ctl("stop", &["-m", "fast"]));
        if !stopped.status.success() {
            self.fail("stop", &stopped);
        }
    }

    /// Start the stopped server again, on the same port with the same data.
    pub fn start_again(&self) {
        let started = run(&mut self.pg_ctl("start", &[]));
        if !started.status.success() {
            self.fail("start", &started);
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// `pg_ctl <action>` with the options this cluster always runs with, waiting for it to finish.
    fn pg_ctl(&self, action: &str, extra: &[&str]) -> Command {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut command = self.command("pg_ctl");
        command
            .arg(action)
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-o", &options, "-w"])
            .args(extra);
        command
    }

    /// A PostgreSQL program, run as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let mut command = if self.as_postgres {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(path);
            runuser
        } else {
            Command::new(path)
        };
        // The test's working directory may be closed to the postgres user.
        command.current_dir(&self.dir);
        command
    }

    fn fail(&self, action: &str, output: &Output) -> ! {
        panic!(
            "pg_ctl {action} failed on port {}: {}{}\n--- postgres.log (tail) ---\n{}",
            self.port,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log_tail()
        )
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // Immediate: the test is over, nothing needs a clean shutdown. Fails harmlessly when the
        // server is stopped or never started.
        self.pg_ctl("stop", &["-m", "immediate"]).output().ok();
        fs::remove_dir_all(&self.dir).ok();
    }
}

/// Run a command to completion, capturing its output.
fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"))
}

/// Where initdb and pg_ctl are: `pg_config --bindir` (when it has them; the pg_config of a
/// client-only package may not), else the newest `/usr/lib/postgresql/<version>/bin`.
fn postgres_bindir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|bindir| bindir.join("initdb").exists());
    let bindir = from_pg_config.or_else(newest_debian_bindir).unwrap_or_else(|| {
        panic!(
            "initdb not found (neither via pg_config --bindir nor in /usr/lib/postgresql/*/bin): \
             install postgresql (apt-get install postgresql)"
        )
    });
    for program in ["initdb", "pg_ctl"] {
        if !bindir.join(program).exists() {
            panic!(
                "{program} not found in {}: install postgresql (apt-get install postgresql)",
                bindir.display()
            );
        }
    }
    bindir
}

/// The `/usr/lib/postgresql/<version>/bin` with initdb and the highest version, as Debian installs.
fn newest_debian_bindir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let bindir = entry.path().join("bin");
            bindir.join("initdb").exists().then_some((version, bindir))
        })
        .max()
        .map(|(_, bindir)| bindir)
}

/// A port of 127.0.0.1 that was free a moment ago (the OS picks it from the ephemeral range, so
/// never 5432).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("find a free port on 127.0.0.1: {e}"))
}

/// The effective user id (`unsafe` is forbidden here, so not `geteuid`).
fn current_uid() -> u32 {
    id(&["-u"])
}

/// The uid (`-u`) or gid (`-g`) of `user`.
fn id_of(flag: &str, user: &str) -> u32 {
    id(&[flag, user])
}

fn id(args: &[&str]) -> u32 {
    let output = Command::new("id")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run id {}: {e}", args.join(" ")));
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "id {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn notes(url: &str) -> Vec<String> {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let notes = sqlx::query_scalar("SELECT body FROM notes ORDER BY body")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        notes
    }

    #[tokio::test]
    async fn data_survives_a_restart_and_a_stop_and_start() {
        let cluster = PrivateCluster::start();
        assert_ne!(cluster.url(), crate::DEFAULT_ADMIN_URL);
        let url = cluster.create_database("app").await;
        assert_eq!(url, cluster.database_url("app"));

        let mut conn = PgConnection::connect(&url).await.unwrap();
        conn.execute("CREATE TABLE notes (body TEXT NOT NULL)")
            .await
            .unwrap();
        conn.execute("INSERT INTO notes VALUES ('before restart')")
            .await
            .unwrap();

        cluster.restart();
        let cut = conn.execute("SELECT 1").await;
        assert!(cut.is_err(), "a restart cuts open connections");
        assert_eq!(notes(&url).await, ["before restart"]);

        cluster.stop();
        assert!(PgConnection::connect(&url).await.is_err());
        cluster.start_again();
        assert_eq!(notes(&url).await, ["before restart"]);

        let dir = cluster.dir.clone();
        drop(cluster);
        assert!(!dir.exists(), "{} should be removed", dir.display());
    }
}
