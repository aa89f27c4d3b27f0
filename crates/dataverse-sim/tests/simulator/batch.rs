//! `$batch`: parts in order, continue-on-error, stopping at the first failure, limits.

use mentor_status_dataverse_sim::SimConfig;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Harness, read_batch};

fn statuses(parts: &[crate::helpers::Part]) -> Vec<u16> {
    parts.iter().map(|p| p.status).collect()
}

#[tokio::test]
async fn continue_on_error_runs_every_operation_and_reports_each() {
    let h = Harness::start().await;
    let first = h.seed(json!({"hlf_showonwebsite": false}));
    let last = h.seed(json!({"hlf_showonwebsite": false}));
    let missing = Uuid::new_v4();
    let show = Some(json!({"hlf_showonwebsite": true}));

    let response = h
        .batch(
            &[
                ("PATCH", h.url(&format!("contacts({first})")), show.clone()),
                (
                    "PATCH",
                    format!("/api/data/v9.2/contacts({missing})"),
                    show.clone(),
                ),
                ("PATCH", format!("contacts({last})"), show.clone()),
            ],
            Some("odata.continue-on-error"),
        )
        .await;

    assert_eq!(
        response.headers()["preference-applied"],
        "odata.continue-on-error"
    );
    let (status, parts) = read_batch(response).await;
    assert_eq!(status, 200);
    assert_eq!(statuses(&parts), [204, 404, 204]);
    let error = parts[1].body.as_ref().expect("error body");
    assert_eq!(error["error"]["code"], "0x80040217");
    assert_eq!(
        h.sim.contact(first).expect("first")["hlf_showonwebsite"],
        true
    );
    assert_eq!(
        h.sim.contact(last).expect("last")["hlf_showonwebsite"],
        true
    );
    let stats = h.sim.stats();
    assert_eq!(
        (
            stats.requests_total,
            stats.batch_requests,
            stats.batch_operations,
            stats.patches_applied,
            stats.not_found
        ),
        (1, 1, 3, 2, 1)
    );
}

#[tokio::test]
async fn without_continue_on_error_the_batch_stops_at_the_first_failure() {
    let h = Harness::start().await;
    let first = h.seed(json!({"hlf_showonwebsite": false}));
    let last = h.seed(json!({"hlf_showonwebsite": false}));
    let show = Some(json!({"hlf_showonwebsite": true}));

    let response = h
        .batch(
            &[
                ("PATCH", h.url(&format!("contacts({first})")), show.clone()),
                (
                    "PATCH",
                    h.url(&format!("contacts({})", Uuid::new_v4())),
                    show.clone(),
                ),
                ("PATCH", h.url(&format!("contacts({last})")), show.clone()),
            ],
            None,
        )
        .await;

    let (status, parts) = read_batch(response).await;
    assert_eq!(status, 404, "the outer status is the failing operation's");
    assert_eq!(statuses(&parts), [204, 404]);
    assert_eq!(
        h.sim.contact(last).expect("last")["hlf_showonwebsite"],
        false
    );
    assert_eq!(h.sim.stats().batch_operations, 2);
}

#[tokio::test]
async fn batches_may_read_too() {
    let h = Harness::start().await;
    h.seed(json!({"fullname": "Lest"}));

    let response = h
        .batch(&[("GET", h.url("contacts?$select=fullname"), None)], None)
        .await;

    let (status, parts) = read_batch(response).await;
    assert_eq!(status, 200);
    assert_eq!(statuses(&parts), [200]);
    let body = parts[0].body.as_ref().expect("page");
    assert_eq!(body["value"][0]["fullname"], "Lest");
}

#[tokio::test]
async fn too_many_operations_or_change_sets_are_400() {
    let h = Harness::start_with(SimConfig {
        max_batch_operations: 2,
        ..SimConfig::default()
    })
    .await;
    let id = h.seed(json!({"n": 0}));
    let op = (
        "PATCH",
        h.url(&format!("contacts({id})")),
        Some(json!({"n": 1})),
    );

    let too_many = h.batch(&[op.clone(), op.clone(), op], None).await;
    let change_set = h
        .authorized(h.http.post(h.url("$batch")))
        .header(CONTENT_TYPE, "multipart/mixed; boundary=batch_1")
        .body(
            "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n\
             --changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             PATCH contacts(hlf_memberno='1') HTTP/1.1\r\n\r\n{}\r\n--changeset_1--\r\n--batch_1--\r\n",
        )
        .send()
        .await
        .expect("sent");

    assert_eq!(too_many.status(), 400);
    assert_eq!(change_set.status(), 400);
    let body: serde_json::Value = change_set.json().await.expect("JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("change sets are not supported"))
    );
    assert_eq!(h.sim.contact(id).expect("exists")["n"], 0);
    assert_eq!(h.sim.stats().patches_applied, 0);
}
