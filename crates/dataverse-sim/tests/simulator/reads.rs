//! Reading the table: paging with next links, `$select`, `$filter`, single records, unknown routes.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Harness, object};

async fn page(h: &Harness, url: &str) -> (Option<String>, Value) {
    let response = h
        .authorized(h.http.get(url))
        .header("Prefer", "odata.maxpagesize=5")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let applied = response
        .headers()
        .get("preference-applied")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (applied, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn paging_follows_next_links_through_three_pages() {
    let h = Harness::start().await;
    let mut ids: Vec<Uuid> = (1..=12)
        .map(|n| h.seed(json!({"hlf_memberno": n.to_string(), "fullname": "x"})))
        .collect();
    ids.sort();

    let mut url = h.url("contacts?$select=hlf_memberno");
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let (applied, body) = page(&h, &url).await;
        assert_eq!(applied.as_deref(), Some("odata.maxpagesize=5"));
        let records = body["value"].as_array().expect("value");
        sizes.push(records.len());
        for record in records {
            let record = object(record.clone());
            let mut columns: Vec<&str> = record.keys().map(String::as_str).collect();
            columns.sort();
            assert_eq!(columns, ["@odata.etag", "contactid", "hlf_memberno"]);
            seen.push(Uuid::parse_str(record["contactid"].as_str().expect("id")).expect("GUID"));
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&h.url("contacts?")), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }

    assert_eq!(sizes, [5, 5, 2]);
    assert_eq!(seen, ids, "every record once, in key order");
    assert_eq!(h.sim.stats().reads, 3);
}

#[tokio::test]
async fn next_links_are_stable_while_records_come_and_go() {
    let h = Harness::start().await;
    for n in 10..16u128 {
        h.sim.insert_contact(Uuid::from_u128(n), object(json!({})));
    }
    let (_, first) = page(&h, &h.url("contacts?$select=contactid")).await;
    let next = first["@odata.nextLink"].as_str().expect("more").to_owned();

    // Meanwhile a record appears before the cursor and a later one disappears.
    h.sim.insert_contact(Uuid::from_u128(1), object(json!({})));
    h.sim.remove_contact(Uuid::from_u128(15));
    let (_, second) = page(&h, &next).await;

    let ids = |body: &Value| -> Vec<Uuid> {
        body["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|r| Uuid::parse_str(r["contactid"].as_str().expect("id")).expect("GUID"))
            .collect()
    };
    assert_eq!(
        ids(&first),
        (10..15).map(Uuid::from_u128).collect::<Vec<_>>()
    );
    assert!(
        ids(&second).is_empty(),
        "15 was removed, 1 is behind the cursor"
    );
    assert!(second.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn filters_select_single_records_by_id_and_key() {
    let h = Harness::start().await;
    let shown =
        h.seed(json!({"hlf_memberno": "1", "hlf_showonwebsite": true, "fullname": "Synlig"}));
    h.seed(json!({"hlf_memberno": "2", "hlf_showonwebsite": false}));

    let filtered: Value = h
        .get("contacts?$filter=hlf_showonwebsite eq true")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let single = h
        .get(&format!("contacts({shown})?$select=fullname"))
        .send()
        .await
        .expect("sent");
    let by_key = h
        .get("contacts(hlf_memberno='1')")
        .send()
        .await
        .expect("sent");
    let missing = h
        .get(&format!("contacts({})", Uuid::new_v4()))
        .send()
        .await
        .expect("sent");
    let unsupported = h.get("contacts?$top=1").send().await.expect("sent");

    let values = filtered["value"].as_array().expect("value");
    assert_eq!(values.len(), 1);
    assert_eq!(values[0]["contactid"], shown.to_string());
    assert_eq!(single.status(), 200);
    let etag = single.headers()["etag"].to_str().expect("text").to_owned();
    let single: Value = single.json().await.expect("JSON");
    assert_eq!(single["fullname"], "Synlig");
    assert_eq!(single["@odata.etag"], etag);
    assert!(single.get("hlf_memberno").is_none());
    assert!(
        single["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("#contacts(fullname)/$entity"))
    );
    assert_eq!(by_key.status(), 200);
    assert_eq!(missing.status(), 404);
    assert_eq!(unsupported.status(), 400);
}

#[tokio::test]
async fn unknown_routes_are_404_with_the_error_body() {
    let h = Harness::start().await;

    let unknown_set = h.get("accounts").send().await.expect("sent");
    let outside = h
        .http
        .get(format!("{}/nothing/here", h.sim.base_url()))
        .send()
        .await
        .expect("sent");

    for response in [unknown_set, outside] {
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.expect("JSON");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(h.sim.stats().not_found, 2);
}
