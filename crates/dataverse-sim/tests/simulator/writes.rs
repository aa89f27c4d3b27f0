//! PATCH by id and by alternate key, conditional writes, etags, bad bodies.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::Harness;

#[tokio::test]
async fn patch_by_id_updates_only_the_given_columns_and_names_the_entity() {
    let h = Harness::start().await;
    let id = h.seed(json!({"hlf_memberno": "100001", "hlf_showonwebsite": false}));

    let response = h
        .patch(
            &format!("contacts({id})"),
            json!({"hlf_showonwebsite": true}),
        )
        .header("If-Match", "*")
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["odata-entityid"],
        h.url(&format!("contacts({id})")).as_str()
    );
    let stored = h.sim.contact(id).expect("still there");
    assert_eq!(stored["hlf_showonwebsite"], true);
    assert_eq!(stored["hlf_memberno"], "100001");
    assert_eq!(stored["contactid"], id.to_string());
    assert_eq!(h.sim.stats().patches_applied, 1);
}

#[tokio::test]
async fn patch_by_alternate_key_finds_the_record_even_with_quotes_in_the_value() {
    let h = Harness::start().await;
    let plain = h.seed(json!({"hlf_memberno": "100002"}));
    let quoted = h.seed(json!({"hlf_memberno": "O'Brien 7"}));

    for (path, id) in [
        ("contacts(hlf_memberno='100002')", plain),
        ("contacts(hlf_memberno='O''Brien%207')", quoted),
    ] {
        let response = h
            .patch(path, json!({"fullname": "Kari"}))
            .header("If-Match", "*")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 204, "{path}");
        let entity = response.headers()["odata-entityid"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(entity.ends_with(&format!("contacts({id})")), "{entity}");
        assert_eq!(h.sim.contact(id).expect("exists")["fullname"], "Kari");
    }
}

#[tokio::test]
async fn if_match_star_on_a_missing_contact_is_404_and_creates_nothing() {
    let h = Harness::start().await;
    let missing = Uuid::new_v4();

    let by_id = h
        .patch(&format!("contacts({missing})"), json!({"a": 1}))
        .header("If-Match", "*")
        .send()
        .await
        .expect("sent");
    let by_key = h
        .patch("contacts(hlf_memberno='nobody')", json!({"a": 1}))
        .header("If-Match", "*")
        .send()
        .await
        .expect("sent");

    assert_eq!(by_id.status(), 404);
    let body: Value = by_id.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "0x80040217");
    assert_eq!(
        body["error"]["message"],
        format!("contact With Id = {missing} Does Not Exist")
    );
    assert_eq!(by_key.status(), 404);
    assert!(h.sim.contacts().is_empty());
    assert_eq!(h.sim.stats().not_found, 2);
    assert_eq!(h.sim.stats().patches_applied, 0);
}

#[tokio::test]
async fn a_plain_patch_upserts_and_if_none_match_creates_only() {
    let h = Harness::start().await;
    let id = Uuid::new_v4();

    let created = h
        .patch(&format!("contacts({id})"), json!({"fullname": "Ny"}))
        .send()
        .await
        .expect("sent");
    let by_key = h
        .patch(
            "contacts(hlf_memberno='200001')",
            json!({"fullname": "Også ny"}),
        )
        .send()
        .await
        .expect("sent");
    let again = h
        .patch(&format!("contacts({id})"), json!({"fullname": "Igjen"}))
        .header("If-None-Match", "*")
        .send()
        .await
        .expect("sent");

    assert_eq!(created.status(), 204);
    assert_eq!(h.sim.contact(id).expect("created")["fullname"], "Ny");
    assert_eq!(by_key.status(), 204);
    assert!(
        h.sim
            .contacts()
            .iter()
            .any(|c| c.get("hlf_memberno") == Some(&json!("200001"))
                && c.get("fullname") == Some(&json!("Også ny")))
    );
    assert_eq!(again.status(), 412);
    assert_eq!(h.sim.contact(id).expect("kept")["fullname"], "Ny");
}

#[tokio::test]
async fn etags_change_on_every_write_and_if_match_etag_detects_changes() {
    let h = Harness::start().await;
    let id = h.seed(json!({"hlf_showonwebsite": false}));
    let etag_of = |response: reqwest::Response| async move {
        let body: Value = response.json().await.expect("JSON");
        body["@odata.etag"].as_str().expect("etag").to_owned()
    };
    let read = etag_of(
        h.get(&format!("contacts({id})"))
            .send()
            .await
            .expect("sent"),
    )
    .await;

    h.sim.set_field(id, "hlf_showonwebsite", json!(true));
    let current = etag_of(
        h.get(&format!("contacts({id})"))
            .send()
            .await
            .expect("sent"),
    )
    .await;

    assert_ne!(read, current);
    assert!(current.starts_with("W/\""), "{current}");
    let stale = h
        .patch(
            &format!("contacts({id})"),
            json!({"hlf_showonwebsite": false}),
        )
        .header("If-Match", &read)
        .send()
        .await
        .expect("sent");
    assert_eq!(stale.status(), 412);
    let fresh = h
        .patch(
            &format!("contacts({id})"),
            json!({"hlf_showonwebsite": false}),
        )
        .header("If-Match", &current)
        .send()
        .await
        .expect("sent");
    assert_eq!(fresh.status(), 204);
}

#[tokio::test]
async fn bad_bodies_and_key_columns_in_the_body_are_400_with_the_error_body() {
    let h = Harness::start().await;
    let id = h.seed(json!({"hlf_memberno": "300001", "fullname": "Uendret"}));
    let path = format!("contacts({id})");

    let array = h
        .authorized(h.http.patch(h.url(&path)))
        .body("[1]")
        .send()
        .await
        .expect("sent");
    let not_json = h
        .authorized(h.http.patch(h.url(&path)))
        .body("not json")
        .send()
        .await
        .expect("sent");
    let key_in_body = h
        .patch(
            "contacts(hlf_memberno='300001')",
            json!({"hlf_memberno": "300002", "fullname": "x"}),
        )
        .send()
        .await
        .expect("sent");

    for response in [array, not_json, key_in_body] {
        assert_eq!(response.status(), 400);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("application/json"))
        );
        let body: Value = response.json().await.expect("JSON");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    assert_eq!(h.sim.contact(id).expect("exists")["fullname"], "Uendret");
}
