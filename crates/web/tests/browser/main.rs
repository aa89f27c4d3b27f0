//! The dashboard in a real browser (headless Chromium through WebDriver), against a served
//! application on PostgreSQL and on SQLite whose organisation syncs to the Dataverse simulator over
//! HTTP: log in, filter to expiring mentors, pause one and see its status and history change, force
//! sync and see it in sync with the simulator, acknowledge an alert, log out. Screenshots of the main
//! pages go to `target/test-output/screenshots/<backend>/`.

extern crate mentor_status_web as web;

mod driver;
mod world;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use testkit::TestBackend;

use driver::Driver;
use world::{PASSWORD, World};

testkit::on_both_backends!(a_coordinator_works_through_the_dashboard);

/// `target/test-output/screenshots/<backend>`: beside this test binary's `target/<profile>/deps`.
fn screenshot_dir(backend: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<binary>")
        .to_path_buf();
    let dir = target.join("test-output").join("screenshots").join(backend);
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

struct Page<'a> {
    client: &'a Client,
    base: String,
    shots: PathBuf,
}

impl Page<'_> {
    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Wait (up to 10 s) until the browser shows a page whose path and query start with `prefix`.
    async fn arrive(&self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return;
            }
            if Instant::now() > deadline {
                panic!("still on {path}, not {prefix}: {}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Set a field's value directly (date fields type differently in every locale).
    async fn set(&self, id: &str, value: &str) {
        self.client
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![id.into(), value.into()],
            )
            .await
            .unwrap_or_else(|e| panic!("set #{id}: {e}"));
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(element.text().await.unwrap());
        }
        out
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// A PNG of the whole page (the window is made as tall as the page first).
    async fn shot(&self, name: &str) {
        let size = self
            .client
            .execute(
                "return [document.documentElement.scrollHeight, \
                         window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await
            .unwrap();
        let height = size[0].as_u64().unwrap_or(900).clamp(600, 4000);
        let frame = size[1].as_u64().unwrap_or(0);
        self.client
            .set_window_size(1280, u32::try_from(height + frame).unwrap())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    /// Reload the page until `css`'s text is `want`, for up to 30 s.
    async fn reload_until(&self, css: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.text(css).await;
            if now == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} still says “{now}”, not “{want}”"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.client.refresh().await.unwrap();
        }
    }
}

async fn a_coordinator_works_through_the_dashboard<B: TestBackend>() {
    let world = World::<B>::start().await;
    let driver = Driver::start().await;
    let client = driver.browser(1280, 900).await;
    let page = Page {
        client: &client,
        base: world.address.clone(),
        shots: screenshot_dir(B::NAME),
    };

    // Log in (the start page sends the browser to the login page).
    page.goto("/").await;
    assert!(page.path().await.starts_with("/login"));
    assert_eq!(page.text("h1").await, "Logg inn");
    page.shot("login").await;
    page.fill("#email", "wrong@hlf.no").await;
    page.fill("#password", "not the password").await;
    page.click("form.stack button[type=submit]").await;
    page.arrive("/login").await;
    assert_eq!(
        page.text("p.error").await,
        "Feil e-postadresse eller passord."
    );
    page.fill("#email", "koordinator@hlf.no").await;
    page.fill("#password", PASSWORD).await;
    page.click("form.stack button[type=submit]").await;
    page.arrive("/mentors").await;
    assert_eq!(page.text("h1").await, "Likepersoner");
    let names = page.texts("#mentors tbody th").await;
    assert_eq!(names.len(), world.mentors.len(), "{names:?}");
    page.shot("mentors").await;

    // Filter to certifications expiring within 30 days.
    page.fill("#expiring", "30").await;
    page.click(".filters button[type=submit]").await;
    page.arrive("/mentors?status=&expiring=30&q=").await;
    let mut expiring = page.texts("#mentors tbody th").await;
    expiring.sort();
    assert_eq!(expiring, world.expiring_within_30());
    page.shot("mentors-expiring").await;

    // Open Kari and pause her with a reason and a return date.
    let kari = world.mentor("Kari Nordmann");
    page.click(&format!("#mentors a[href='/mentors/{kari}']"))
        .await;
    page.arrive(&format!("/mentors/{kari}")).await;
    assert_eq!(page.text("h1").await, "Kari Nordmann");
    assert_eq!(page.text("#status").await, "aktiv");
    page.reload_until("#sync-state", "oppdatert").await;
    page.shot("mentor").await;
    page.fill("#pause-reason", "Sommerferie").await;
    page.set("pause-resume-on", &world.return_date()).await;
    page.click("#pause-form button[type=submit]").await;
    page.arrive(&format!("/mentors/{kari}?done=paused")).await;
    assert_eq!(
        page.text("p.notice").await,
        "Likepersonen er satt på pause."
    );
    assert_eq!(page.text("#status").await, "på pause");
    assert_eq!(page.text("#status-reason").await, "Sommerferie");
    let history = page.texts("#history-table tbody tr").await;
    assert!(
        history[0].contains("aktiv → på pause") && history[0].contains("Sommerferie"),
        "{history:?}"
    );
    assert!(history[0].contains("koordinator@hlf.no"));

    // Force sync: queued first, then in sync against the simulator, which hides her.
    page.click("#sync-form button[type=submit]").await;
    page.arrive(&format!("/mentors/{kari}?done=sync")).await;
    let notice = page.text("p.notice").await;
    assert!(
        notice.starts_with("Likepersonen") && notice.contains("først i køen"),
        "{notice}"
    );
    page.reload_until("#sync-state", "oppdatert").await;
    assert_eq!(world.visible_in_simulator("Kari Nordmann"), Some(false));
    page.shot("mentor-paused-in-sync").await;

    // The sync health page shows the dead letter and the lag.
    page.goto("/sync").await;
    assert_eq!(page.text("h1").await, "Synkronisering med nettsiden");
    assert!(page.source().await.contains("Jon Lie"), "the dead letter");
    page.shot("sync").await;

    // Acknowledge the open alert.
    page.goto("/alerts?open=1").await;
    let row = format!("#alert-{}", world.alert);
    assert!(page.text(&row).await.contains("åpent"));
    page.shot("alerts").await;
    page.click(&format!("{row} form button")).await;
    page.arrive("/alerts?done=acknowledged").await;
    assert_eq!(page.text("p.notice").await, "Varselet er kvittert.");
    assert!(page.text(&row).await.contains("kvittert"));
    assert!(world.alert_acknowledged().await);

    page.goto("/runs").await;
    assert!(
        page.source()
            .await
            .contains("Nattlig sertifiseringskjøring")
    );
    page.shot("runs").await;

    // Log out: back to the login page, and the pages are closed.
    page.click(".logout button[type=submit]").await;
    page.arrive("/login?out=1").await;
    assert_eq!(page.text("p.notice").await, "Du er logget ut.");
    page.goto("/mentors").await;
    page.arrive("/login?next=%2Fmentors").await;

    // An admin's settings page (logged in from the English login page; the organisation's pages
    // are Norwegian, its language).
    page.goto("/login?lang=en").await;
    page.fill("#email", "admin@hlf.no").await;
    page.fill("#password", PASSWORD).await;
    page.click("form.stack button[type=submit]").await;
    page.arrive("/mentors").await;
    page.goto("/settings").await;
    assert_eq!(page.text("h1").await, "Innstillinger for organisasjonen");
    page.shot("settings").await;
    page.click(".logout button[type=submit]").await;
    page.arrive("/login?out=1&lang=nb").await;

    client.close().await.unwrap();
    world.stop().await;
}
