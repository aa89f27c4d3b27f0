//! Each fault, seen from the client.

use std::time::{Duration, Instant};

use mentor_status_dataverse_sim::RateLimit;
use serde_json::{Value, json};

use crate::helpers::{Harness, read_batch};

#[tokio::test]
async fn over_the_rate_limit_clients_get_429_with_retry_after_and_sending_during_it_is_counted() {
    let h = Harness::start().await;
    h.sim.faults().set_rate_limit(Some(RateLimit {
        requests: 5,
        window: Duration::from_secs(2),
    }));
    for _ in 0..5 {
        assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 200);
    }

    let sixth = h.get("WhoAmI").send().await.expect("sent");
    assert_eq!(sixth.status(), 429);
    let retry_after: u64 = sixth.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = sixth.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "0x80072322");
    let impatient = h.get("WhoAmI").send().await.expect("sent");
    assert_eq!(impatient.status(), 429);
    assert_eq!(h.sim.stats().requests_during_retry_after, 1);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;

    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 200);
    let stats = h.sim.stats();
    assert_eq!(
        (stats.throttled_responses, stats.requests_during_retry_after),
        (2, 1)
    );
}

#[tokio::test]
async fn a_server_error_share_of_one_fails_every_request_with_a_5xx_error_body() {
    let h = Harness::start().await;
    h.sim.faults().set_server_error_share(1.0);

    let response = h.get("WhoAmI").send().await.expect("sent");

    assert!(
        matches!(response.status().as_u16(), 500 | 503),
        "{}",
        response.status()
    );
    let body: Value = response.json().await.expect("JSON");
    assert!(body["error"]["message"].is_string());
    assert_eq!(h.sim.stats().server_errors, 1);
    h.sim.faults().clear();
    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 200);
}

#[tokio::test]
async fn in_a_batch_server_errors_hit_operations_and_batch_errors_hit_the_whole_batch() {
    let h = Harness::start().await;
    let id = h.seed(json!({"n": 0}));
    let ops = [
        (
            "PATCH",
            h.url(&format!("contacts({id})")),
            Some(json!({"n": 1})),
        ),
        (
            "PATCH",
            h.url(&format!("contacts({id})")),
            Some(json!({"n": 2})),
        ),
    ];
    let faults = h.sim.faults();

    faults.set_server_error_share(1.0);
    let (status, parts) = read_batch(h.batch(&ops, Some("odata.continue-on-error")).await).await;
    assert_eq!(status, 200);
    assert!(
        parts.len() == 2 && parts.iter().all(|p| matches!(p.status, 500 | 503)),
        "{parts:?}"
    );

    faults.set_server_error_share(0.0);
    faults.set_batch_error_share(1.0);
    let whole = h.batch(&ops, Some("odata.continue-on-error")).await;
    assert!(whole.status().is_server_error());
    let body: Value = whole.json().await.expect("JSON error body");
    assert!(body["error"]["message"].is_string());

    assert_eq!(h.sim.contact(id).expect("exists")["n"], 0);
    assert_eq!(h.sim.stats().server_errors, 3);
}

#[tokio::test]
async fn hanging_requests_time_clients_out_and_end_in_504() {
    let h = Harness::start().await;
    let faults = h.sim.faults();
    faults.set_timeout_share(1.0);
    faults.set_timeout_hang(Duration::from_millis(300));

    let impatient = h
        .get("WhoAmI")
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    let patient = h.get("WhoAmI").send().await.expect("sent");

    assert!(impatient.is_err_and(|e| e.is_timeout()));
    assert_eq!(patient.status(), 504);
    assert_eq!(h.sim.stats().timeouts, 2);
}

#[tokio::test]
async fn shutdown_ends_hanging_requests_at_once() {
    let Harness { sim, http, token } = Harness::start().await;
    sim.faults().set_timeout_share(1.0);
    let url = format!("{}/api/data/v9.2/WhoAmI", sim.base_url());
    let hanging = tokio::spawn(async move { http.get(url).bearer_auth(token).send().await });
    // Shut down only once the request is hanging inside the simulator.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stats().timeouts == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never started hanging"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!hanging.is_finished(), "still waiting for its answer");

    let started = Instant::now();
    sim.shutdown().await;

    assert!(started.elapsed() < Duration::from_secs(5));
    let answer = hanging
        .await
        .expect("task")
        .expect("an answer, not a dropped connection");
    assert_eq!(answer.status(), 503, "the simulator's shutting-down answer");
}

#[tokio::test]
async fn a_delay_slows_every_request() {
    let h = Harness::start().await;
    h.sim.faults().set_delay(Duration::from_millis(150));

    let started = Instant::now();
    let response = h.get("WhoAmI").send().await.expect("sent");

    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_late_answer_comes_after_the_write_has_landed() {
    let h = Harness::start().await;
    let id = h.seed(json!({ "hlf_showonwebsite": true }));
    h.sim.faults().set_answer_delay(Duration::from_millis(400));

    let patch = h
        .patch(
            &format!("contacts({id})"),
            json!({ "hlf_showonwebsite": false }),
        )
        .timeout(Duration::from_millis(150))
        .send()
        .await;

    assert!(patch.is_err_and(|e| e.is_timeout()), "the answer is late");
    assert_eq!(
        h.sim.contact(id).expect("the contact")["hlf_showonwebsite"],
        json!(false),
        "but the write landed"
    );
}

#[tokio::test]
async fn lagging_reads_show_records_as_they_were() {
    let h = Harness::start().await;
    let id = h.seed(json!({"hlf_showonwebsite": false}));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let patch = h
        .patch(
            &format!("contacts({id})"),
            json!({"hlf_showonwebsite": true}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(patch.status(), 204);
    h.sim.faults().set_read_lag(Duration::from_millis(500));
    let shown = || async {
        let one: Value = h
            .get(&format!("contacts({id})"))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        let all: Value = h
            .get("contacts")
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        (
            one["hlf_showonwebsite"].clone(),
            all["value"][0]["hlf_showonwebsite"].clone(),
        )
    };

    assert_eq!(shown().await, (json!(false), json!(false)));
    assert_eq!(
        h.sim.contact(id).expect("exists")["hlf_showonwebsite"],
        true
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(shown().await, (json!(true), json!(true)));
}

#[tokio::test]
async fn a_failing_contact_refuses_writes_with_the_chosen_status_until_cleared() {
    let h = Harness::start().await;
    let id = h.seed(json!({"hlf_memberno": "9", "n": 0}));
    let faults = h.sim.faults();
    faults.fail_contact(id, 403);

    let direct = h
        .patch(&format!("contacts({id})"), json!({"n": 1}))
        .header("If-Match", "*")
        .send()
        .await
        .expect("sent");
    let by_key = h
        .patch("contacts(hlf_memberno='9')", json!({"n": 1}))
        .send()
        .await
        .expect("sent");
    let in_batch = h
        .batch(
            &[(
                "PATCH",
                h.url(&format!("contacts({id})")),
                Some(json!({"n": 1})),
            )],
            None,
        )
        .await;
    let read = h
        .get(&format!("contacts({id})"))
        .send()
        .await
        .expect("sent");

    assert_eq!(direct.status(), 403);
    let body: Value = direct.json().await.expect("JSON");
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
    assert_eq!(by_key.status(), 403);
    let (_, parts) = read_batch(in_batch).await;
    assert_eq!(parts[0].status, 403);
    assert_eq!(read.status(), 200, "reads are not affected");
    assert_eq!(h.sim.contact(id).expect("exists")["n"], 0);

    faults.clear_contact_failure(id);
    let after = h
        .patch(&format!("contacts({id})"), json!({"n": 1}))
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 204);
}

#[tokio::test]
async fn every_applied_write_is_broadcast() {
    let h = Harness::start().await;
    let single = h.seed(json!({}));
    let batched = h.seed(json!({}));
    let mut writes = h.sim.writes();

    h.patch(
        &format!("contacts({single})"),
        json!({"hlf_showonwebsite": true}),
    )
    .send()
    .await
    .expect("sent");
    h.batch(
        &[(
            "PATCH",
            h.url(&format!("contacts({batched})")),
            Some(json!({"hlf_showonwebsite": false})),
        )],
        None,
    )
    .await;

    let first = writes.recv().await.expect("first event");
    let second = writes.recv().await.expect("second event");
    assert_eq!(
        (first.contact_id, first.fields["hlf_showonwebsite"].clone()),
        (single, json!(true))
    );
    assert_eq!(
        (
            second.contact_id,
            second.fields["hlf_showonwebsite"].clone()
        ),
        (batched, json!(false))
    );
    assert!(writes.try_recv().is_err(), "nothing else was written");
}
