//! Headless Chromium through chromedriver, started by the test on a free port. Without Chromium or
//! chromedriver the test fails and says how to install them; it never skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const INSTALL: &str = "the dashboard's browser tests need Chromium and chromedriver: install them \
    with `apt-get update && apt-get install -y chromium chromium-driver` (Debian), or point \
    CHROME_BIN and CHROMEDRIVER at them";

fn find(env: &str, candidates: &[&str]) -> PathBuf {
    if let Ok(path) = std::env::var(env) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env}={} does not exist; {INSTALL}",
            path.display()
        );
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    for candidate in candidates {
        let direct = Path::new(candidate);
        if direct.is_absolute() && direct.is_file() {
            return direct.to_path_buf();
        }
        for dir in &on_path {
            let path = dir.join(candidate);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "cannot find {} ({env} unset); {INSTALL}",
        candidates.join(" or ")
    );
}

/// chromedriver, stopped when dropped.
pub struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
    chrome: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Driver {
        let chrome = find(
            "CHROME_BIN",
            &[
                "/usr/bin/chromium",
                "chromium",
                "chromium-browser",
                "google-chrome",
            ],
        );
        let chromedriver = find("CHROMEDRIVER", &["/usr/bin/chromedriver", "chromedriver"]);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
        let driver = Driver {
            child,
            port,
            _profile: tempfile::tempdir().expect("a profile directory"),
            chrome,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = format!("http://127.0.0.1:{port}/status");
        loop {
            if reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless browser window of `width` × `height`.
    pub async fn browser(&self, width: u32, height: u32) -> Client {
        let options = json!({
            "binary": self.chrome,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--lang=nb",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", self._profile.path().display()),
            ],
            // A Norwegian browser: the login page answers in its Accept-Language.
            "prefs": {"intl.accept_languages": "nb-NO,nb,no,en"},
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session: {e}; {INSTALL}"))
    }
}
