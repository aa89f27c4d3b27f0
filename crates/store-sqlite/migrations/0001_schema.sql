-- The schema of mentor-status on SQLite: the same tables, keys and rules as the PostgreSQL backend
-- (crates/store-postgres/migrations), in SQLite's terms:
--   * ids are 16-byte BLOBs (UUIDv7, so byte order is creation order);
--   * instants are TEXT in one fixed RFC 3339 form with microseconds and `Z`
--     (`2026-11-30T05:00:00.000000Z`, written only by `time::Ts`), so text order is time order;
--   * dates are TEXT `YYYY-MM-DD`; booleans INTEGER 0/1; JSON is TEXT.
-- Constraint names are part of the contract: `src/error.rs` maps them (and the column lists SQLite
-- reports for UNIQUE violations) to `store::Constraint`.

CREATE TABLE organisations (
    id         BLOB PRIMARY KEY NOT NULL,
    slug       TEXT NOT NULL CONSTRAINT organisations_slug_key UNIQUE,
    name       TEXT NOT NULL,
    -- The business date is computed in this zone (IANA name, parsed by the domain).
    timezone   TEXT NOT NULL DEFAULT 'Europe/Oslo',
    -- Per-organisation overrides (reminder thresholds, feature flags); shape owned by the engine.
    settings   TEXT NOT NULL DEFAULT '{}' CONSTRAINT organisations_settings_json CHECK (json_valid(settings)),
    created_at TEXT NOT NULL
) STRICT;

-- The single source of truth for a mentor's availability. `version` is the compare-and-set token every
-- change bumps. `current_expires_on` is the current certification's last valid day, kept by triggers.
CREATE TABLE mentors (
    id                  BLOB PRIMARY KEY NOT NULL,
    org_id              BLOB NOT NULL REFERENCES organisations (id),
    full_name           TEXT NOT NULL,
    -- `full_name` lower-cased by the application: SQLite's lower() and LIKE fold ASCII only, and the
    -- mentor search must be case-insensitive for every letter (Å, Ø, É ...), as on PostgreSQL.
    full_name_lower     TEXT NOT NULL,
    email               TEXT NOT NULL,
    phone               TEXT NULL,
    status              TEXT NOT NULL CONSTRAINT mentors_status_check
                            CHECK (status IN ('active', 'paused', 'certification_expired', 'inactive')),
    status_reason       TEXT NULL,
    status_changed_at   TEXT NOT NULL,
    resume_on           TEXT NULL,
    listed_publicly     INTEGER NOT NULL DEFAULT 1 CONSTRAINT mentors_listed_publicly_check CHECK (listed_publicly IN (0, 1)),
    -- A mentor links to Dynamics by contact id or by alternate key, never both.
    dynamics_contact_id BLOB NULL,
    dynamics_key        TEXT NULL,
    version             INTEGER NOT NULL DEFAULT 1 CONSTRAINT mentors_version_check CHECK (version >= 1),
    current_expires_on  TEXT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    -- Only a pause carries a return date.
    CONSTRAINT mentors_resume_on_only_when_paused CHECK (resume_on IS NULL OR status = 'paused'),
    CONSTRAINT mentors_one_dynamics_link CHECK (dynamics_contact_id IS NULL OR dynamics_key IS NULL),
    CONSTRAINT mentors_org_email_key UNIQUE (org_id, email),
    CONSTRAINT mentors_org_dynamics_contact_key UNIQUE (org_id, dynamics_contact_id),
    CONSTRAINT mentors_org_dynamics_key_key UNIQUE (org_id, dynamics_key)
) STRICT;
-- The mentor list is keyset-paginated by (full_name, id) within an organisation.
CREATE INDEX mentors_org_name_idx ON mentors (org_id, full_name, id);
-- The nightly run: lapsed certifications and the reminder window; return dates where set.
CREATE INDEX mentors_org_expiry_idx ON mentors (org_id, current_expires_on);
CREATE INDEX mentors_org_resume_idx ON mentors (org_id, resume_on) WHERE resume_on IS NOT NULL;

-- A mentor leaves by deactivation (status `inactive`), never by deletion: their history is the record.
CREATE TRIGGER mentors_refuse_delete BEFORE DELETE ON mentors
BEGIN
    SELECT RAISE(ABORT, 'mentors are never deleted; deactivate the mentor instead');
END;

-- Certification periods; the current one is the latest `expires_on`. Old periods stay as a record.
CREATE TABLE certifications (
    id         BLOB PRIMARY KEY NOT NULL,
    mentor_id  BLOB NOT NULL REFERENCES mentors (id),
    kind       TEXT NOT NULL DEFAULT 'likeperson',
    issued_on  TEXT NOT NULL,
    -- The last valid day.
    expires_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT certifications_period_check CHECK (expires_on >= issued_on)
) STRICT;
CREATE INDEX certifications_mentor_expires_idx ON certifications (mentor_id, expires_on DESC);

-- `mentors.current_expires_on` follows every write to `certifications`, whoever makes it.
CREATE TRIGGER certifications_current_expiry_insert AFTER INSERT ON certifications
BEGIN
    UPDATE mentors SET current_expires_on = NEW.expires_on
    WHERE id = NEW.mentor_id AND (current_expires_on IS NULL OR current_expires_on < NEW.expires_on);
END;
CREATE TRIGGER certifications_current_expiry_update AFTER UPDATE ON certifications
BEGIN
    UPDATE mentors
    SET current_expires_on = (SELECT max(expires_on) FROM certifications WHERE mentor_id = mentors.id)
    WHERE id IN (OLD.mentor_id, NEW.mentor_id);
END;
CREATE TRIGGER certifications_current_expiry_delete AFTER DELETE ON certifications
BEGIN
    UPDATE mentors
    SET current_expires_on = (SELECT max(expires_on) FROM certifications WHERE mentor_id = mentors.id)
    WHERE id = OLD.mentor_id;
END;

-- Logins. Authorization comes from this table, never from token claims alone.
CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id),
    -- Lower-cased by the domain; globally unique so a login names one user.
    email         TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    role          TEXT NOT NULL CONSTRAINT users_role_check CHECK (role IN ('mentor', 'coordinator', 'admin')),
    -- The mentor this login belongs to; one login per mentor.
    mentor_id     BLOB NULL REFERENCES mentors (id) CONSTRAINT users_mentor_id_key UNIQUE,
    -- What a token's `sub` claim must say to be this user.
    auth_subject  TEXT NOT NULL CONSTRAINT users_auth_subject_key UNIQUE,
    -- argon2id PHC string, for dashboard logins.
    password_hash TEXT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT users_mentor_link_role_check CHECK (mentor_id IS NULL OR role = 'mentor')
) STRICT;
CREATE INDEX users_org_role_idx ON users (org_id, role);

-- Append-only record of every status change. System transitions carry a unique idempotency key.
CREATE TABLE status_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          BLOB NOT NULL,
    mentor_id       BLOB NOT NULL REFERENCES mentors (id),
    from_status     TEXT NULL CONSTRAINT status_history_from_status_check
                        CHECK (from_status IN ('active', 'paused', 'certification_expired', 'inactive')),
    to_status       TEXT NOT NULL CONSTRAINT status_history_to_status_check
                        CHECK (to_status IN ('active', 'paused', 'certification_expired', 'inactive')),
    reason          TEXT NULL,
    actor_kind      TEXT NOT NULL CONSTRAINT status_history_actor_kind_check CHECK (actor_kind IN ('user', 'system')),
    actor_user_id   BLOB NULL,
    idempotency_key TEXT NULL CONSTRAINT status_history_idempotency_key_key UNIQUE,
    run_id          BLOB NULL,
    certification_expires_on TEXT NULL,
    occurred_at     TEXT NOT NULL,
    CONSTRAINT status_history_actor_check CHECK ((actor_kind = 'user') = (actor_user_id IS NOT NULL))
) STRICT;
CREATE INDEX status_history_mentor_idx ON status_history (mentor_id, id DESC);
CREATE INDEX status_history_run_idx ON status_history (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX status_history_system_expiry_idx
    ON status_history (org_id, mentor_id, certification_expires_on)
    WHERE actor_kind = 'system' AND to_status = 'certification_expired';

-- Transactional outbox: every change that affects the public listing writes a row in the same
-- transaction, and the relay pushes the mentor's CURRENT state later, outside any transaction.
CREATE TABLE sync_outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         BLOB NOT NULL,
    mentor_id      BLOB NOT NULL REFERENCES mentors (id),
    mentor_version INTEGER NOT NULL,
    priority       INTEGER NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT 'pending' CONSTRAINT sync_outbox_state_check
                       CHECK (state IN ('pending', 'done', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    available_at   TEXT NOT NULL,
    last_error     TEXT NULL,
    created_at     TEXT NOT NULL,
    done_at        TEXT NULL
) STRICT;
CREATE INDEX sync_outbox_pending_idx ON sync_outbox (org_id, priority DESC, available_at, id)
    WHERE state = 'pending';
CREATE INDEX sync_outbox_done_idx ON sync_outbox (org_id, done_at) WHERE state = 'done';
CREATE INDEX sync_outbox_dead_idx ON sync_outbox (org_id, id) WHERE state = 'dead';
CREATE INDEX sync_outbox_mentor_pending_idx ON sync_outbox (mentor_id, id) WHERE state = 'pending';

-- What the relay knows about each mentor, and its lease (one relay at a time per mentor).
CREATE TABLE mentor_sync (
    mentor_id      BLOB PRIMARY KEY NOT NULL REFERENCES mentors (id),
    org_id         BLOB NOT NULL,
    pushed_version INTEGER NULL,
    pushed_at      TEXT NULL,
    failure        TEXT NULL CONSTRAINT mentor_sync_failure_check
                       CHECK (failure IN ('retrying', 'dead', 'not_found')),
    last_error     TEXT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    failing_since  TEXT NULL,
    lease_owner    BLOB NULL,
    leased_until   TEXT NULL
) STRICT;
CREATE INDEX mentor_sync_org_failure_idx ON mentor_sync (org_id, failure) WHERE failure IS NOT NULL;

-- A status or visibility changed by hand in SQL (the application always bumps `version` and queues
-- the row itself) gets a new version and an outbox row, so the public listing follows it too.
-- (Recursive triggers are off, so the UPDATE inside does not fire this trigger again.)
CREATE TRIGGER mentors_queue_manual_change AFTER UPDATE OF status, listed_publicly ON mentors
    WHEN NEW.version = OLD.version
         AND (NEW.status IS NOT OLD.status OR NEW.listed_publicly IS NOT OLD.listed_publicly)
BEGIN
    UPDATE mentors
    SET version = OLD.version + 1,
        updated_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z'
    WHERE id = NEW.id;
    INSERT INTO sync_outbox (org_id, mentor_id, mentor_version, available_at, created_at)
    VALUES (NEW.org_id, NEW.id, OLD.version + 1,
            strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z',
            strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z');
END;

-- In-app notifications, addressed to one user or to a mentor (whose login sees them), newest first by id.
CREATE TABLE notifications (
    -- Creation order: ids made within one millisecond do not sort by it.
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  BLOB NOT NULL CONSTRAINT notifications_id_key UNIQUE,
    org_id              BLOB NOT NULL,
    recipient_user_id   BLOB NULL,
    recipient_mentor_id BLOB NULL REFERENCES mentors (id),
    kind                TEXT NOT NULL,
    mentor_id           BLOB NULL REFERENCES mentors (id),
    payload             TEXT NOT NULL CONSTRAINT notifications_payload_json CHECK (json_valid(payload)),
    created_at          TEXT NOT NULL,
    read_at             TEXT NULL,
    CONSTRAINT notifications_one_recipient_check
        CHECK ((recipient_user_id IS NULL) <> (recipient_mentor_id IS NULL))
) STRICT;
CREATE INDEX notifications_user_idx ON notifications (recipient_user_id, seq DESC);
CREATE INDEX notifications_mentor_idx ON notifications (recipient_mentor_id, seq DESC);
CREATE INDEX notifications_reminder_idx
    ON notifications (org_id, mentor_id, payload ->> 'threshold_days', payload ->> 'certification_expires_on')
    WHERE kind = 'certification_reminder';
CREATE INDEX notifications_digest_idx
    ON notifications (org_id, recipient_user_id, payload ->> 'business_date')
    WHERE kind = 'coordinator_digest';

-- Idempotency keys of API requests; the insert that wins is the claim.
CREATE TABLE idempotency_keys (
    user_id               BLOB NOT NULL REFERENCES users (id),
    key                   TEXT NOT NULL,
    fingerprint           TEXT NOT NULL,
    response_status       INTEGER NULL,
    response_content_type TEXT NULL,
    response_body         BLOB NULL,
    created_at            TEXT NOT NULL,
    completed_at          TEXT NULL,
    PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_response_check CHECK (
        (response_status IS NULL) = (completed_at IS NULL)
        AND (response_status IS NULL) = (response_content_type IS NULL)
        AND (response_status IS NULL) = (response_body IS NULL)
    )
) STRICT;

-- One decision per (mentor, threshold, certification expiry date): `sent` or `skipped`.
CREATE TABLE cert_expiry_reminders (
    org_id                   BLOB NOT NULL,
    mentor_id                BLOB NOT NULL REFERENCES mentors (id),
    threshold_days           INTEGER NOT NULL CONSTRAINT cert_expiry_reminders_threshold_check
                                 CHECK (threshold_days BETWEEN 1 AND 365),
    certification_expires_on TEXT NOT NULL,
    outcome                  TEXT NOT NULL CONSTRAINT cert_expiry_reminders_outcome_check
                                 CHECK (outcome IN ('sent', 'skipped')),
    business_date            TEXT NOT NULL,
    run_id                   BLOB NULL,
    created_at               TEXT NOT NULL,
    CONSTRAINT cert_expiry_reminders_key UNIQUE (mentor_id, threshold_days, certification_expires_on)
) STRICT;
CREATE INDEX cert_expiry_reminders_run_idx ON cert_expiry_reminders (run_id) WHERE run_id IS NOT NULL;

-- One notice per (mentor, return date) a few days before an automatic resume.
CREATE TABLE resume_notices (
    org_id        BLOB NOT NULL,
    mentor_id     BLOB NOT NULL REFERENCES mentors (id),
    resume_on     TEXT NOT NULL,
    business_date TEXT NOT NULL,
    run_id        BLOB NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT resume_notices_key UNIQUE (mentor_id, resume_on)
) STRICT;
CREATE INDEX resume_notices_run_idx ON resume_notices (run_id) WHERE run_id IS NOT NULL;

-- The run log: every run of every job. Ids are UUIDv7, so the log is newest first by id.
CREATE TABLE job_runs (
    id            BLOB PRIMARY KEY NOT NULL,
    job           TEXT NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id),
    business_date TEXT NOT NULL,
    trigger       TEXT NOT NULL CONSTRAINT job_runs_trigger_check CHECK (trigger IN ('scheduled', 'manual')),
    instance      TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NULL,
    outcome       TEXT NOT NULL CONSTRAINT job_runs_outcome_check
                      CHECK (outcome IN ('running', 'succeeded', 'failed')),
    counts        TEXT NOT NULL DEFAULT '{}' CONSTRAINT job_runs_counts_json CHECK (json_valid(counts)),
    error         TEXT NULL,
    lease_until   TEXT NULL,
    digested      INTEGER NOT NULL DEFAULT 0 CONSTRAINT job_runs_digested_check CHECK (digested IN (0, 1)),
    CONSTRAINT job_runs_finished_check CHECK ((outcome = 'running') = (finished_at IS NULL))
) STRICT;
CREATE INDEX job_runs_org_idx ON job_runs (org_id, id DESC);
CREATE INDEX job_runs_running_idx ON job_runs (org_id, job) WHERE outcome = 'running';
CREATE INDEX job_runs_undigested_idx ON job_runs (org_id, job) WHERE NOT digested;

-- The scheduler's claim on (job, organisation, business date).
CREATE TABLE scheduled_claims (
    job           TEXT NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id),
    business_date TEXT NOT NULL,
    run_id        BLOB NOT NULL,
    lease_until   TEXT NOT NULL,
    completed_at  TEXT NULL,
    PRIMARY KEY (job, org_id, business_date)
) STRICT;
CREATE INDEX scheduled_claims_run_idx ON scheduled_claims (run_id);

-- One coordinator digest per organisation and business date.
CREATE TABLE digests (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id),
    business_date TEXT NOT NULL,
    run_id        BLOB NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT digests_org_date_key UNIQUE (org_id, business_date)
) STRICT;

-- What the compensation check found: the reconciliation log, append-only.
CREATE TABLE reconciliation_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id    BLOB NOT NULL,
    run_id    BLOB NULL,
    kind      TEXT NOT NULL,
    mentor_id BLOB NULL,
    key       TEXT NOT NULL,
    count     INTEGER NOT NULL,
    found_at  TEXT NOT NULL
) STRICT;
CREATE INDEX reconciliation_log_org_idx ON reconciliation_log (org_id, id DESC);

-- Alerts for the operations team: one open alert per incident (dedupe key).
CREATE TABLE alerts (
    id              BLOB PRIMARY KEY NOT NULL,
    org_id          BLOB NULL,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL CONSTRAINT alerts_severity_check CHECK (severity IN ('warning', 'critical')),
    dedupe_key      TEXT NOT NULL,
    summary         TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    count           INTEGER NOT NULL DEFAULT 1,
    acknowledged_by BLOB NULL,
    acknowledged_at TEXT NULL,
    resolved_at     TEXT NULL
) STRICT;
CREATE UNIQUE INDEX alerts_open_dedupe_key ON alerts (dedupe_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_org_idx ON alerts (org_id, id DESC);

-- The latest credential check per organisation (token + WhoAmI).
CREATE TABLE credential_checks (
    org_id     BLOB PRIMARY KEY NOT NULL REFERENCES organisations (id),
    checked_at TEXT NOT NULL,
    ok         INTEGER NOT NULL CONSTRAINT credential_checks_ok_check CHECK (ok IN (0, 1)),
    detail     TEXT NULL
) STRICT;
