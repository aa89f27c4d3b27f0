//! Paged reads.

use std::collections::BTreeSet;

use mentor_status_dataverse::{DataverseError, Page, PageRequest, RecordKey};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    ENTITY_SET, MEMBER_NO, VISIBLE, client_for, insert_contact, start_default, visibility,
};

#[tokio::test]
async fn twelve_records_in_pages_of_five_take_three_pages() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let inserted: BTreeSet<String> = (0..12)
        .map(|n| insert_contact(&sim, &format!("{n:04}")).to_string())
        .collect();

    let mut request = PageRequest::First {
        entity_set: ENTITY_SET.to_owned(),
        select: vec!["contactid".to_owned(), VISIBLE.to_owned()],
        filter: None,
        page_size: 5,
    };
    let mut page_sizes = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        let Page { records, next } = client.read_page(&request).await.expect("page");
        page_sizes.push(records.len());
        for record in &records {
            assert!(record.contains_key(VISIBLE), "{record:?}");
            assert!(!record.contains_key(MEMBER_NO), "not selected: {record:?}");
            let id = record.get("contactid").and_then(Value::as_str).expect("id");
            seen.insert(id.to_owned());
        }
        match next {
            Some(next) => request = next,
            None => break,
        }
        assert!(page_sizes.len() <= 3, "too many pages: {page_sizes:?}");
    }
    assert_eq!(page_sizes, [5, 5, 2]);
    assert_eq!(seen, inserted);
    assert_eq!(sim.stats().reads, 3);
}

#[tokio::test]
async fn a_filter_selects_matching_records() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let listed = insert_contact(&sim, "1");
    let unlisted = insert_contact(&sim, "2");
    sim.set_field(unlisted, VISIBLE, Value::Bool(false));

    let page = client
        .read_page(&PageRequest::First {
            entity_set: ENTITY_SET.to_owned(),
            select: vec!["contactid".to_owned()],
            filter: Some(format!("{VISIBLE} eq true")),
            page_size: 100,
        })
        .await
        .expect("page");
    let ids: Vec<&str> = page
        .records
        .iter()
        .filter_map(|record| record.get("contactid").and_then(Value::as_str))
        .collect();
    assert_eq!(ids, [listed.to_string().as_str()]);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn retrieve_reads_the_selected_columns_of_one_record() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let id = insert_contact(&sim, "2002");
    let record = client
        .retrieve(
            ENTITY_SET,
            &RecordKey::Alternate {
                field: MEMBER_NO.to_owned(),
                value: "2002".to_owned(),
            },
            &[VISIBLE.to_owned(), MEMBER_NO.to_owned()],
        )
        .await
        .expect("the record is read");
    assert_eq!(record.get(MEMBER_NO), Some(&json!("2002")));
    assert_eq!(record.get(VISIBLE), Some(&json!(true)));
    assert!(
        !record.contains_key("fullname"),
        "only the selected columns"
    );
    let missing = client
        .retrieve(
            ENTITY_SET,
            &RecordKey::Id(Uuid::new_v4()),
            &[VISIBLE.to_owned()],
        )
        .await
        .expect_err("no such record");
    assert!(
        matches!(missing, DataverseError::NotFound { .. }),
        "{missing:?}"
    );
    assert_eq!(visibility(&sim, id), Some(json!(true)));
}
