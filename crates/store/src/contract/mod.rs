//! The store contract: what every backend must guarantee, as tests generic over [`Store`]. A backend
//! runs them with [`store_contract_tests!`](crate::store_contract_tests), giving a function that
//! returns a fresh, migrated, empty store (and a guard that keeps its database alive).
//!
//! Every check goes through the trait, so the same assertions hold for every backend; PostgreSQL is
//! the reference. Checks never depend on wall-clock timing: instants the trait takes are fixed ones,
//! and where the trait takes durations judged by the database's clock (sync and delivery leases and
//! backoffs, stale idempotency keys, outbox pruning), checks pass zero (due at once), negative, or
//! long ones.
//! Uniqueness is checked under concurrency by several identical calls joined at once.
//!
//! The checks, by area: [`orgs_users`], [`mentors`], [`changes`], [`notifications`], [`expiry`]
//! (the worklist and the reminder and notice ledgers), [`runs`] (claims, the run log, digests),
//! [`alerts`] (and the compensation check), [`sync`] (the listing outbox), [`delivery`] (the email
//! and webhook outboxes), [`idempotency`] and [`sessions`] (dashboard logins).
//!
//! Enabled by the `contract` feature (a dev-dependency of the backends).

pub mod alerts;
pub mod changes;
pub mod delivery;
pub mod expiry;
pub mod idempotency;
pub mod mentors;
pub mod notifications;
pub mod orgs_users;
pub mod runs;
pub mod sessions;
pub mod sync;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{
    ActionKind, CertificationPeriod, Email, FullName, MentorId, MentorStatus, OrgId, OrgSlug,
    OrgTimeZone, Reason, Role, Transition,
};
use uuid::Uuid;

use crate::{
    Actor, Conflict, Constraint, MentorChange, MentorFacts, NewCertification, NewMentor,
    NewNotification, NewOrg, NewUser, Notification, Org, Recipient, ReminderClaim, ReminderOutcome,
    ResumeNoticeClaim, RunId, Store, StoreError, SyncClaim, User,
};

/// Generate one `#[tokio::test]` per contract check, each on a store from `$fresh`: an async
/// function returning `(store, guard)`; the guard is dropped when the test ends. The tests are
/// grouped in one module per area and named by their check, e.g.
/// `sync::dead_results_bury_rows_until_retried`.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store_contract_tests!(@areas $fresh;
            orgs_users {
                migrations_are_idempotent_and_the_database_answers,
                organisations_are_found_by_id_and_slug_and_slugs_are_unique,
                every_organisation_is_listed_by_slug,
                organisation_settings_round_trip,
                users_default_their_subject_to_their_id_and_are_found_by_subject_and_email,
                a_password_hash_is_replaced_or_removed,
            }
            mentors {
                registering_mentors_writes_them_whole_in_input_order,
                registering_mentors_is_all_or_nothing,
                an_import_of_thousands_of_mentors_is_written_whole,
                a_mentor_of_another_organisation_is_not_found,
                the_current_certification_is_the_one_that_expires_last,
                list_mentors_filters_by_status_expiry_window_and_text,
                list_mentors_pages_by_name_then_id_without_gaps_or_repeats,
                update_mentor_changes_only_the_given_fields_and_queues_a_sync,
            }
            changes {
                a_change_writes_history_outbox_and_notifications_to_every_coordinator,
                a_stale_expectation_loses_the_race_and_writes_nothing,
                concurrent_changes_to_one_mentor_apply_once,
                a_repeated_idempotency_key_is_already_recorded_and_writes_nothing,
                a_certification_renewal_moves_an_expired_mentor_back_to_active,
                a_batch_applies_each_change_on_its_own,
                history_is_newest_first_and_pages_by_id,
            }
            notifications {
                notifications_are_visible_to_their_recipient_only_and_read_once,
            }
            expiry {
                the_worklist_finds_each_category_with_inclusive_windows,
                a_reminder_claim_wins_once_and_only_sent_winners_notify,
                reminder_notifications_may_go_to_a_user_or_every_coordinator,
                concurrent_reminder_claimers_win_each_key_exactly_once,
                resume_notices_are_claimed_once_even_by_concurrent_runs,
                concurrent_runs_batching_in_worklist_order_expire_each_mentor_once,
            }
            runs {
                a_scheduled_run_is_claimed_once_among_concurrent_claimers,
                an_expired_lease_is_taken_over_and_the_old_run_is_marked_failed,
                a_completed_claim_is_never_taken_again_and_a_failed_one_is_retried,
                the_run_log_pages_newest_first,
                a_finished_run_writes_one_digest_per_coordinator_listing_what_it_did,
                effects_after_the_days_digest_go_into_the_next_dates_digest,
                the_last_run_to_finish_writes_the_digest,
                a_deferred_digest_is_written_by_write_digest_once_no_other_run_is_alive,
                a_digest_lists_at_most_500_items_per_kind_with_true_counts,
            }
            alerts {
                one_open_alert_per_incident_counted_resolved_and_acknowledged_once,
                concurrent_openings_of_one_incident_open_one_alert,
                the_compensation_check_finds_duplicates_and_nothing_on_clean_data,
            }
            sync {
                sync_leases_give_each_mentor_to_one_relay,
                an_expired_sync_lease_is_taken_over_by_another_relay,
                results_of_a_relay_that_lost_its_lease_are_ignored,
                a_claim_takes_high_priority_rows_first,
                a_claim_returns_each_mentors_current_state_and_link,
                pushed_results_confirm_rows_up_to_the_pushed_version,
                unlinked_results_confirm_rows_without_a_push,
                retried_results_count_attempts_and_come_back_when_due,
                released_results_come_back_without_counting_an_attempt,
                dead_results_bury_rows_until_retried,
                force_sync_queues_once_per_priority,
                queue_sync_selects_mentors_by_selection,
                sync_targets_are_the_linked_mentors_with_their_desired_state,
                sync_status_counts_the_queue_and_keeps_the_last_credential_check,
                wake_ups_move_after_a_change_is_queued,
                confirmed_outbox_rows_are_pruned_after_their_age,
                a_break_glass_claim_takes_backoff_and_dead_mentors_and_reports_live_leases,
            }
            delivery {
                notification_emails_follow_the_organisations_setting_and_the_recipients_language,
                every_writer_of_notifications_queues_their_emails,
                email_claims_give_each_email_to_one_sender_oldest_first,
                a_retry_counts_the_attempt_and_hides_the_email_until_its_delay,
                a_dead_email_is_final_and_a_sender_that_lost_its_lease_records_nothing,
                alert_notices_are_queued_once_per_alert_and_event,
                email_and_webhook_channels_are_told_independently,
                delivery_status_counts_pending_and_dead_and_the_oldest_pending,
                pruning_forgets_old_deliveries_and_never_tells_an_alert_again,
            }
            idempotency {
                idempotency_keys_start_replay_refuse_and_recover,
                concurrent_requests_with_one_key_start_once,
            }
            sessions {
                a_live_session_is_found_with_its_user_and_touched_at_most_once_a_minute,
                a_session_ends_at_its_absolute_expiry_however_busy,
                logout_deletes_a_session_and_expired_ones_are_forgotten,
                a_session_needs_a_known_user_and_its_own_token_hash,
                concurrent_lookups_of_one_session_all_find_it,
                login_failures_are_counted_per_account_and_address_and_pruned,
            }
        );
    };
    (@areas $fresh:path; $($area:ident { $($check:ident),+ $(,)? })+) => {
        $(
            mod $area {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test]
                    async fn $check() {
                        let (store, _guard) = $fresh().await;
                        $crate::contract::$area::$check(store).await;
                    }
                )+
            }
        )+
    };
}

// --- shared fixtures ---

/// The instant most writes happen at, and its business date.
const NOW: &str = "2026-05-01T04:00:00Z";
const TODAY: &str = "2026-05-01";
/// When a change happens, unless a check says otherwise.
const CHANGED_AT: &str = "2026-05-02T09:00:00Z";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 instant")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a YYYY-MM-DD date")
}

fn today() -> NaiveDate {
    date(TODAY)
}

/// `n` days after today (before it when negative).
fn days(n: i64) -> NaiveDate {
    today() + Duration::days(n)
}

/// A long time, for leases and backoffs that must not run out during a check.
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

async fn org<S: Store>(store: &S, slug: &str) -> Org {
    store
        .create_org(NewOrg {
            slug: OrgSlug::parse(slug).unwrap(),
            name: slug.to_uppercase(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .expect("create the organisation")
}

/// A login without a mentor (its subject defaults to its id).
async fn user<S: Store>(store: &S, org: OrgId, email: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .expect("create the user")
}

/// The login of a mentor.
async fn login<S: Store>(store: &S, org: OrgId, email: &str, mentor: MentorId) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role: Role::Mentor,
            mentor_id: Some(mentor),
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .expect("create the mentor's login")
}

/// An `active`, unlinked mentor without a certification.
fn new_mentor(name: &str, email: &str) -> NewMentor {
    NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: None,
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: None,
    }
}

fn certification(issued_on: NaiveDate, expires_on: NaiveDate) -> NewCertification {
    NewCertification::new(CertificationPeriod::new(issued_on, expires_on).unwrap())
}

fn certified(mut mentor: NewMentor, issued_on: &str, expires_on: &str) -> NewMentor {
    mentor.certification = Some(certification(date(issued_on), date(expires_on)));
    mentor
}

/// `name@example.no`, lower case, spaces as dots.
fn email_of(name: &str) -> String {
    format!("{}@example.no", name.to_lowercase().replace(' ', "."))
}

/// A mentor as `new_mentor` makes it, certified until `expires_on` (since 2024-01-01) if given.
fn new_certified(name: &str, expires_on: Option<NaiveDate>) -> NewMentor {
    NewMentor {
        certification: expires_on.map(|e| certification(date("2024-01-01"), e)),
        ..new_mentor(name, &email_of(name))
    }
}

async fn register<S: Store>(store: &S, org: OrgId, mentors: Vec<NewMentor>) -> Vec<MentorId> {
    store
        .create_mentors(org, Actor::System, mentors, t(NOW))
        .await
        .expect("register the mentors")
}

/// An `active` mentor (version 1), email `email_of(name)`, certified until `expires_on` if given.
async fn mentor<S: Store>(
    store: &S,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
) -> MentorId {
    register(store, org, vec![new_certified(name, expires_on)]).await[0]
}

async fn mentor_with_status<S: Store>(
    store: &S,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
    status: MentorStatus,
) -> MentorId {
    let mut m = new_certified(name, expires_on);
    m.status = status;
    register(store, org, vec![m]).await[0]
}

/// A linked mentor (a Dynamics contact id), certified until 2027-12-31.
async fn linked_mentor<S: Store>(store: &S, org: OrgId, name: &str) -> MentorId {
    let mut m = new_certified(name, Some(date("2027-12-31")));
    m.dynamics_contact_id = Some(Uuid::new_v4());
    register(store, org, vec![m]).await[0]
}

/// A change that does nothing but bump the version; checks add what they need.
fn change(org: OrgId, mentor: MentorId, status: MentorStatus, version: i64) -> MentorChange {
    MentorChange {
        org,
        mentor,
        expected_status: status,
        expected_version: version,
        certification: None,
        transition: None,
        actor: Actor::System,
        idempotency_key: None,
        history_note: None,
        notifications: Vec::new(),
        run: None,
        bound_expires_on: None,
        at: t(CHANGED_AT),
    }
}

fn transition(action: ActionKind, from: MentorStatus, to: MentorStatus) -> Transition {
    Transition {
        action,
        from,
        to,
        reason: None,
        resume_on: None,
    }
}

/// `active` → `paused` for "ferie", until `resume_on` if given.
fn pause(resume_on: Option<NaiveDate>) -> Transition {
    Transition {
        reason: Some(Reason::parse("ferie").unwrap()),
        resume_on,
        ..transition(
            ActionKind::Pause,
            MentorStatus::Active,
            MentorStatus::Paused,
        )
    }
}

fn expire() -> Transition {
    transition(
        ActionKind::Expire,
        MentorStatus::Active,
        MentorStatus::CertificationExpired,
    )
}

fn renew() -> Transition {
    transition(
        ActionKind::RenewCertification,
        MentorStatus::CertificationExpired,
        MentorStatus::Active,
    )
}

/// A paused mentor (version 2) returning on `resume_on`.
async fn paused_mentor<S: Store>(
    store: &S,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
    resume_on: Option<NaiveDate>,
) -> MentorId {
    let id = mentor(store, org, name, expires_on).await;
    let mut c = change(org, id, MentorStatus::Active, 1);
    c.transition = Some(pause(resume_on));
    store.apply_change(c).await.expect("pause");
    id
}

fn notify(recipient: Recipient, kind: &str) -> NewNotification {
    NewNotification {
        recipient,
        kind: kind.to_owned(),
        payload: serde_json::json!({ "kind": kind }),
    }
}

/// A reminder decision as the engine writes it; the notification goes to the mentor.
fn reminder(mentor: MentorId, threshold: u16, expires_on: NaiveDate, sent: bool) -> ReminderClaim {
    ReminderClaim {
        mentor,
        threshold_days: threshold,
        expires_on,
        outcome: if sent {
            ReminderOutcome::Sent
        } else {
            ReminderOutcome::Skipped
        },
        notification: Some(NewNotification {
            recipient: Recipient::Mentor(mentor),
            kind: "certification_reminder".to_owned(),
            payload: serde_json::json!({
                "threshold_days": threshold,
                "certification_expires_on": expires_on,
            }),
        }),
    }
}

fn notice(mentor: MentorId, resume_on: NaiveDate) -> ResumeNoticeClaim {
    ResumeNoticeClaim {
        mentor,
        resume_on,
        notification: NewNotification {
            recipient: Recipient::Mentor(mentor),
            kind: "resume_notice".to_owned(),
            payload: serde_json::json!({ "resume_on": resume_on }),
        },
    }
}

/// The nightly run's expiry of `facts`, as the engine writes it (no notifications).
fn expiry(org: OrgId, facts: &MentorFacts, run: RunId) -> MentorChange {
    let expires = facts
        .expires_on
        .map_or_else(|| "none".to_owned(), |d| d.to_string());
    let mut c = change(org, facts.id, facts.status, facts.version);
    c.transition = Some(expire());
    c.idempotency_key = Some(format!("expired:{}:{expires}", facts.id));
    c.run = Some(run);
    c.bound_expires_on = facts.expires_on;
    c.at = t(NOW);
    c
}

/// Every notification `user` sees, newest first (read page by page).
async fn all_notifications<S: Store>(store: &S, user: &User) -> Vec<Notification> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .notifications(user, false, 100, before)
            .await
            .expect("read notifications");
        all.extend(page.items);
        before = page.next;
        if before.is_none() {
            return all;
        }
    }
}

/// The kinds of `user`'s notifications, newest first.
async fn kinds<S: Store>(store: &S, user: &User) -> Vec<String> {
    all_notifications(store, user)
        .await
        .into_iter()
        .map(|n| n.kind)
        .collect()
}

fn ids(facts: &[MentorFacts]) -> Vec<MentorId> {
    facts.iter().map(|f| f.id).collect()
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// How many outbox rows of `org` wait for the relay.
async fn pending<S: Store>(store: &S, org: OrgId) -> u64 {
    store
        .sync_status(org, HOUR)
        .await
        .expect("sync status")
        .pending
}

fn relay(org: OrgId, owner: Uuid, limit: usize) -> SyncClaim {
    SyncClaim {
        org,
        owner,
        limit,
        lease: HOUR,
    }
}

#[track_caller]
fn assert_not_found(err: StoreError, entity: &str) {
    match err {
        StoreError::NotFound { entity: e } => assert_eq!(e, entity),
        other => panic!("expected NotFound({entity}), got {other:?}"),
    }
}

#[track_caller]
fn constraint(err: StoreError) -> Constraint {
    match err {
        StoreError::Conflict(Conflict::Constraint(c)) => c,
        other => panic!("expected a constraint conflict, got {other:?}"),
    }
}
