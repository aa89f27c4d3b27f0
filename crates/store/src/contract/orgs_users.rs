//! Schema and health, organisations, their settings, and users.

use domain::{Email, Locale, MentorId, OrgId, OrgSlug, OrgTimeZone, Role};

use super::{assert_not_found, constraint, login, mentor, org, user};
use crate::{Constraint, NewOrg, NewUser, OrgSettings, Store, User};

pub async fn migrations_are_idempotent_and_the_database_answers<S: Store>(store: S) {
    let before = store.schema_status().await.unwrap();
    assert!(before.known >= 1, "{before:?}");
    assert!(
        before.is_current(),
        "a fresh store comes migrated: {before:?}"
    );
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.schema_status().await.unwrap(), before);
    store.ping().await.unwrap();
}

pub async fn organisations_are_found_by_id_and_slug_and_slugs_are_unique<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    assert_eq!(store.org(hlf.id).await.unwrap(), hlf);
    assert_eq!(
        store.org_by_slug(&hlf.slug).await.unwrap(),
        Some(hlf.clone())
    );
    assert_eq!(hlf.timezone.name(), "Europe/Oslo");
    assert_eq!(
        store
            .org_by_slug(&OrgSlug::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );
    assert_not_found(store.org(OrgId::new()).await.unwrap_err(), "organisation");

    let err = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "Another".into(),
            timezone: OrgTimeZone::parse("America/New_York").unwrap(),
        })
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::OrgSlug);
    assert_eq!(store.orgs().await.unwrap(), vec![hlf]);

    let nyc = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("nyc").unwrap(),
            name: "New York".into(),
            timezone: OrgTimeZone::parse("America/New_York").unwrap(),
        })
        .await
        .unwrap();
    let read = store.org(nyc.id).await.unwrap();
    assert_eq!(read, nyc);
    assert_eq!(
        (read.name.as_str(), read.timezone.name()),
        ("New York", "America/New_York")
    );
}

pub async fn every_organisation_is_listed_by_slug<S: Store>(store: S) {
    assert!(store.orgs().await.unwrap().is_empty());
    org(&store, "charlie").await;
    org(&store, "alpha").await;
    org(&store, "bravo").await;
    let slugs: Vec<String> = store
        .orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.slug.to_string())
        .collect();
    assert_eq!(slugs, ["alpha", "bravo", "charlie"]);
}

pub async fn organisation_settings_round_trip<S: Store>(store: S) {
    let a = org(&store, "alpha").await;
    let b = org(&store, "bravo").await;
    assert_eq!(
        store.org_settings(a.id).await.unwrap(),
        OrgSettings::default()
    );
    let settings = OrgSettings {
        thresholds_days: Some(vec![7, 21]),
        email_enabled: true,
        locale: Locale::En,
    };
    store
        .update_org_settings(a.id, settings.clone())
        .await
        .unwrap();
    assert_eq!(store.org_settings(a.id).await.unwrap(), settings);
    assert_eq!(
        store.org_settings(b.id).await.unwrap(),
        OrgSettings::default(),
        "only that organisation's"
    );

    store
        .update_org_settings(a.id, OrgSettings::default())
        .await
        .unwrap();
    assert_eq!(
        store.org_settings(a.id).await.unwrap(),
        OrgSettings::default(),
        "a field set to None is cleared"
    );

    assert_not_found(
        store.org_settings(OrgId::new()).await.unwrap_err(),
        "organisation",
    );
    assert_not_found(
        store
            .update_org_settings(OrgId::new(), settings)
            .await
            .unwrap_err(),
        "organisation",
    );
}

pub async fn users_default_their_subject_to_their_id_and_are_found_by_subject_and_email<
    S: Store,
>(
    store: S,
) {
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "Kari@Example.no", Role::Coordinator).await;
    assert_eq!(coordinator.auth_subject, coordinator.id.to_string());
    assert_eq!(coordinator.email.as_str(), "kari@example.no");
    assert_eq!(coordinator.role, Role::Coordinator);
    assert_eq!(coordinator.org_id, hlf.id);
    assert_eq!(
        store
            .user_by_subject(&coordinator.auth_subject)
            .await
            .unwrap(),
        Some(coordinator.clone())
    );
    assert_eq!(
        store
            .user_by_email(&Email::parse("kari@example.no").unwrap())
            .await
            .unwrap(),
        Some(coordinator.clone())
    );
    assert_eq!(store.user_by_subject("unknown").await.unwrap(), None);

    let with_subject = store
        .create_user(NewUser {
            org_id: hlf.id,
            email: Email::parse("admin@example.no").unwrap(),
            role: Role::Admin,
            mentor_id: None,
            auth_subject: Some("oidc|42".into()),
            password_hash: Some("$argon2id$v=19$...".into()),
            locale: Some(Locale::En),
        })
        .await
        .unwrap();
    assert_eq!(
        with_subject.password_hash.as_deref(),
        Some("$argon2id$v=19$...")
    );
    assert_eq!(with_subject.locale, Some(Locale::En), "a user's language");
    assert_eq!(coordinator.locale, None, "none: the organisation's");
    assert_eq!(
        store.user_by_subject("oidc|42").await.unwrap(),
        Some(with_subject)
    );

    let duplicate =
        |email: &str, subject: Option<&str>, mentor: Option<MentorId>, role: Role| NewUser {
            org_id: hlf.id,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: mentor,
            auth_subject: subject.map(str::to_owned),
            password_hash: None,
            locale: None,
        };
    let err = store
        .create_user(duplicate("kari@example.no", None, None, Role::Admin))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserEmail);
    let err = store
        .create_user(duplicate(
            "ola@example.no",
            Some("oidc|42"),
            None,
            Role::Admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserSubject);

    let mona = mentor(&store, hlf.id, "Mona", None).await;
    let mona_login = login(&store, hlf.id, "mona@example.no", mona).await;
    assert_eq!(mona_login.mentor_id, Some(mona));
    assert_eq!(mona_login.role, Role::Mentor);
    let err = store
        .create_user(duplicate(
            "mona2@example.no",
            None,
            Some(mona),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserMentorLink);

    // A login for another organisation's mentor, or for no mentor at all, names a mentor that is not there.
    let other = org(&store, "other").await;
    let foreign = mentor(&store, other.id, "Per", None).await;
    let err = store
        .create_user(duplicate(
            "per@example.no",
            None,
            Some(foreign),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    let err = store
        .create_user(duplicate(
            "ghost@example.no",
            None,
            Some(MentorId::new()),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");

    // Refused users were not half-written.
    for email in [
        "ola@example.no",
        "mona2@example.no",
        "per@example.no",
        "ghost@example.no",
    ] {
        assert_eq!(
            store
                .user_by_email(&Email::parse(email).unwrap())
                .await
                .unwrap(),
            None,
            "{email}"
        );
    }
}

pub async fn a_password_hash_is_replaced_or_removed<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let kari = user(&store, hlf.id, "kari@example.no", Role::Coordinator).await;
    let ola = user(&store, hlf.id, "ola@example.no", Role::Coordinator).await;
    let hash_of = |user: &User| {
        let store = store.clone();
        let email = user.email.clone();
        async move {
            store
                .user_by_email(&email)
                .await
                .unwrap()
                .unwrap()
                .password_hash
        }
    };
    store
        .set_password_hash(kari.id, Some("$argon2id$v=19$new".into()))
        .await
        .unwrap();
    assert_eq!(hash_of(&kari).await.as_deref(), Some("$argon2id$v=19$new"));
    assert_eq!(hash_of(&ola).await, None, "only that login changed");
    store.set_password_hash(kari.id, None).await.unwrap();
    assert_eq!(hash_of(&kari).await, None);
    assert_not_found(
        store
            .set_password_hash(domain::UserId::new(), Some("x".into()))
            .await
            .unwrap_err(),
        "user",
    );
}
