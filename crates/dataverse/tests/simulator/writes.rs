//! Updates, alone and in `$batch`es.

use mentor_status_dataverse::{Client, ClientConfig, DataverseError, RecordKey, Update};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    ENTITY_SET, MEMBER_NO, client_for, config_for, fields, hide, insert_contact, start_default,
    visibility,
};

#[tokio::test]
async fn update_by_id_changes_the_record() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let id = insert_contact(&sim, "1001");
    client
        .update(ENTITY_SET, &RecordKey::Id(id), &hide())
        .await
        .expect("update succeeds");
    assert_eq!(visibility(&sim, id), Some(Value::Bool(false)));
    assert_eq!(sim.stats().patches_applied, 1);
}

#[tokio::test]
async fn update_by_alternate_key_changes_the_record() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let id = insert_contact(&sim, "O'Brien 7");
    let key = RecordKey::Alternate {
        field: MEMBER_NO.to_owned(),
        value: "O'Brien 7".to_owned(),
    };
    client
        .update(
            ENTITY_SET,
            &key,
            &fields(json!({ "hlf_likepersonstatus": 2 })),
        )
        .await
        .expect("update succeeds");
    let record = sim.contact(id).expect("still there");
    assert_eq!(record.get("hlf_likepersonstatus"), Some(&json!(2)));
}

#[tokio::test]
async fn updating_a_missing_contact_is_not_found_and_creates_nothing() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let missing = Uuid::new_v4();
    let error = client
        .update(ENTITY_SET, &RecordKey::Id(missing), &hide())
        .await
        .expect_err("no such contact");
    assert!(
        matches!(error, DataverseError::NotFound { .. }),
        "{error:?}"
    );
    assert!(
        sim.contact(missing).is_none(),
        "If-Match: * must not create"
    );

    let by_member_no = RecordKey::Alternate {
        field: MEMBER_NO.to_owned(),
        value: "nobody".to_owned(),
    };
    let error = client
        .update(ENTITY_SET, &by_member_no, &hide())
        .await
        .expect_err("no such member number");
    assert!(
        matches!(error, DataverseError::NotFound { .. }),
        "{error:?}"
    );
    assert!(sim.contacts().is_empty());
}

#[tokio::test]
async fn write_failures_are_classified_by_status() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let forbidden = insert_contact(&sim, "1");
    let precondition = insert_contact(&sim, "2");
    sim.faults().fail_contact(forbidden, 403);
    sim.faults().fail_contact(precondition, 412);
    let error = client
        .update(ENTITY_SET, &RecordKey::Id(forbidden), &hide())
        .await
        .expect_err("403");
    assert!(
        matches!(error, DataverseError::Forbidden { .. }),
        "{error:?}"
    );
    let error = client
        .update(ENTITY_SET, &RecordKey::Id(precondition), &hide())
        .await
        .expect_err("412");
    assert!(
        matches!(error, DataverseError::Permanent { status: 412, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_batch_reports_each_operation_in_order() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let first = insert_contact(&sim, "1001");
    let missing = Uuid::new_v4();
    let third = insert_contact(&sim, "1003");
    let ops = vec![
        Update {
            key: RecordKey::Id(first),
            fields: hide(),
        },
        Update {
            key: RecordKey::Id(missing),
            fields: hide(),
        },
        Update {
            key: RecordKey::Alternate {
                field: MEMBER_NO.to_owned(),
                value: "1003".to_owned(),
            },
            fields: hide(),
        },
    ];
    let results = client
        .update_batch(ENTITY_SET, &ops)
        .await
        .expect("the batch as a whole succeeds");
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(DataverseError::NotFound { .. })),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(visibility(&sim, first), Some(Value::Bool(false)));
    assert_eq!(visibility(&sim, third), Some(Value::Bool(false)));
    assert!(sim.contact(missing).is_none());
    let stats = sim.stats();
    assert_eq!(stats.batch_requests, 1);
    assert_eq!(stats.requests_total, 1);
    assert_eq!(stats.patches_applied, 2);
}

#[tokio::test]
async fn a_batch_larger_than_the_batch_size_is_refused_before_sending() {
    let sim = start_default().await;
    let client = Client::new(ClientConfig {
        batch_size: 2,
        ..config_for(&sim)
    })
    .expect("valid configuration");
    assert_eq!(client.batch_size(), 2);
    let ops: Vec<Update> = (0..3)
        .map(|_| Update {
            key: RecordKey::Id(Uuid::new_v4()),
            fields: hide(),
        })
        .collect();
    let error = client
        .update_batch(ENTITY_SET, &ops)
        .await
        .expect_err("too many operations");
    assert!(
        matches!(
            error,
            DataverseError::Permanent {
                status: DataverseError::STATUS_NOT_SENT,
                ..
            }
        ),
        "{error:?}"
    );
    let stats = sim.stats();
    assert_eq!(stats.requests_total, 0);
    assert_eq!(stats.token_requests, 0);
}

#[tokio::test]
async fn an_empty_batch_sends_nothing() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let results = client
        .update_batch(ENTITY_SET, &[])
        .await
        .expect("nothing to do");
    assert!(results.is_empty());
    assert_eq!(sim.stats().requests_total, 0);
}
