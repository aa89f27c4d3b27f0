-- The nightly expiry run: reminder and resume-notice ledgers, the run log and the scheduler's claims,
-- coordinator digests, the reconciliation log and alerts. Every effect the run may repeat has a unique
-- key, and the insert that wins the key is the claim (never check-then-insert).
--
-- As in 0001, the append-only ledgers reference their mentor but not the organisation: org_id is
-- written from our own rows, and a foreign-key check per inserted row would share-lock the one
-- organisation row every concurrent writer of that organisation shares.

-- One decision per (mentor, threshold, certification expiry date): `sent` (a notification went out in
-- the same statement) or `skipped` (catch-up sent a more urgent one). A renewal changes the expiry date,
-- so the next cycle's reminders are new keys.
CREATE TABLE cert_expiry_reminders (
    org_id                   uuid NOT NULL,
    mentor_id                uuid NOT NULL REFERENCES mentors (id),
    threshold_days           smallint NOT NULL CONSTRAINT cert_expiry_reminders_threshold_check
                                 CHECK (threshold_days BETWEEN 1 AND 365),
    certification_expires_on date NOT NULL,
    outcome                  text NOT NULL CONSTRAINT cert_expiry_reminders_outcome_check
                                 CHECK (outcome IN ('sent', 'skipped')),
    business_date            date NOT NULL,
    run_id                   uuid NULL,
    created_at               timestamptz NOT NULL,
    CONSTRAINT cert_expiry_reminders_key UNIQUE (mentor_id, threshold_days, certification_expires_on)
);
-- The coordinator digest lists what a run sent.
CREATE INDEX cert_expiry_reminders_run_idx ON cert_expiry_reminders (run_id) WHERE run_id IS NOT NULL;

-- One notice per (mentor, return date) a few days before an automatic resume.
CREATE TABLE resume_notices (
    org_id        uuid NOT NULL,
    mentor_id     uuid NOT NULL REFERENCES mentors (id),
    resume_on     date NOT NULL,
    business_date date NOT NULL,
    run_id        uuid NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT resume_notices_key UNIQUE (mentor_id, resume_on)
);
CREATE INDEX resume_notices_run_idx ON resume_notices (run_id) WHERE run_id IS NOT NULL;

-- The run log: every run of every job, scheduled or manual. Ids are UUIDv7 made in Rust, so the log is
-- newest first by id. `digested`: the run's effects were listed in a coordinator digest (or it had none),
-- so no later digest lists them again.
CREATE TABLE job_runs (
    id            uuid PRIMARY KEY,
    job           text NOT NULL,
    org_id        uuid NOT NULL REFERENCES organisations (id),
    business_date date NOT NULL,
    trigger       text NOT NULL CONSTRAINT job_runs_trigger_check CHECK (trigger IN ('scheduled', 'manual')),
    instance      text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NULL,
    outcome       text NOT NULL CONSTRAINT job_runs_outcome_check
                      CHECK (outcome IN ('running', 'succeeded', 'failed')),
    counts        jsonb NOT NULL DEFAULT '{}',
    error         text NULL,
    -- Until when a running run counts as alive (renewed while it works; NULL once finished).
    lease_until   timestamptz NULL,
    digested      boolean NOT NULL DEFAULT false,
    CONSTRAINT job_runs_finished_check CHECK ((outcome = 'running') = (finished_at IS NULL))
);
CREATE INDEX job_runs_org_idx ON job_runs (org_id, id DESC);
-- Finishing a run asks "is another run of this job still alive?" and "which runs are not digested yet?".
CREATE INDEX job_runs_running_idx ON job_runs (org_id, job) WHERE outcome = 'running';
CREATE INDEX job_runs_undigested_idx ON job_runs (org_id, job) WHERE NOT digested;

-- The scheduler's claim on (job, organisation, business date): several instances, and retries, fire it
-- once. A claim whose lease ran out before it completed is taken over by the next claimer.
CREATE TABLE scheduled_claims (
    job           text NOT NULL,
    org_id        uuid NOT NULL REFERENCES organisations (id),
    business_date date NOT NULL,
    run_id        uuid NOT NULL,
    lease_until   timestamptz NOT NULL,
    completed_at  timestamptz NULL,
    PRIMARY KEY (job, org_id, business_date)
);
CREATE INDEX scheduled_claims_run_idx ON scheduled_claims (run_id);

-- One coordinator digest per organisation and business date; the insert that wins the key writes it.
CREATE TABLE digests (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organisations (id),
    business_date date NOT NULL,
    -- The run whose finish wrote it.
    run_id        uuid NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT digests_org_date_key UNIQUE (org_id, business_date)
);

-- What the compensation check found: the reconciliation log, append-only.
CREATE TABLE reconciliation_log (
    id        bigserial PRIMARY KEY,
    org_id    uuid NOT NULL,
    run_id    uuid NULL,
    kind      text NOT NULL,
    mentor_id uuid NULL,
    key       text NOT NULL,
    count     bigint NOT NULL,
    found_at  timestamptz NOT NULL
);
CREATE INDEX reconciliation_log_org_idx ON reconciliation_log (org_id, id DESC);

-- Alerts for the operations team: one open alert per incident (dedupe key); opening it again counts.
-- Ids are UUIDv7 made in Rust, so lists are newest first by id.
CREATE TABLE alerts (
    id              uuid PRIMARY KEY,
    -- NULL for an alert about the whole deployment.
    org_id          uuid NULL,
    kind            text NOT NULL,
    severity        text NOT NULL CONSTRAINT alerts_severity_check CHECK (severity IN ('warning', 'critical')),
    dedupe_key      text NOT NULL,
    summary         text NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    count           bigint NOT NULL DEFAULT 1,
    acknowledged_by uuid NULL,
    acknowledged_at timestamptz NULL,
    resolved_at     timestamptz NULL
);
CREATE UNIQUE INDEX alerts_open_dedupe_key ON alerts (dedupe_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_org_idx ON alerts (org_id, id DESC);

-- The nightly run on 0001's tables.

-- The current certification's last valid day, on the mentor. Finding it through `certifications` costs
-- an index probe per mentor: about 55 ms per organisation of 10,000 mentors, 5.5 s for 100 of them, on
-- every run, even when nothing has to happen. Kept here, the run's questions ("lapsed and still active",
-- "expires in the reminder window") are index range scans that read only the mentors they return.
-- Triggers on `certifications` keep it, so every writer (the store, a hand edit in SQL) keeps it
-- right. The only direct write is the store's mentor import, which sets it with the new row to the
-- value the trigger would set, so the trigger has nothing left to update.
ALTER TABLE mentors ADD COLUMN current_expires_on date NULL;

-- Statement-level with transition tables: a batch of certifications costs one UPDATE, not one per row.
-- A certification that expires before the current one (a backfill of an old period) changes nothing.
CREATE FUNCTION mentors_current_expiry_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Every mentor change inserts into certifications (usually nothing); it must cost nothing then.
    IF NOT EXISTS (SELECT 1 FROM new_certifications) THEN
        RETURN NULL;
    END IF;
    UPDATE mentors m
    SET current_expires_on = n.expires_on
    FROM (SELECT mentor_id, max(expires_on) AS expires_on FROM new_certifications GROUP BY mentor_id) n
    WHERE m.id = n.mentor_id
      AND (m.current_expires_on IS NULL OR m.current_expires_on < n.expires_on);
    RETURN NULL;
END
$$;

-- Certifications are only ever inserted by the application; an UPDATE or DELETE is a hand edit (or a
-- mentor's cascade), after which the affected mentors are computed again from scratch.
CREATE FUNCTION mentors_current_expiry_recompute() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mentors m
    SET current_expires_on = c.expires_on
    FROM (
        SELECT a.mentor_id,
               (SELECT max(x.expires_on) FROM certifications x WHERE x.mentor_id = a.mentor_id) AS expires_on
        FROM (SELECT mentor_id FROM old_certifications
              UNION
              SELECT mentor_id FROM changed_certifications) a
    ) c
    WHERE m.id = c.mentor_id AND m.current_expires_on IS DISTINCT FROM c.expires_on;
    RETURN NULL;
END
$$;

CREATE FUNCTION mentors_current_expiry_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mentors m
    SET current_expires_on = c.expires_on
    FROM (
        SELECT a.mentor_id,
               (SELECT max(x.expires_on) FROM certifications x WHERE x.mentor_id = a.mentor_id) AS expires_on
        FROM (SELECT DISTINCT mentor_id FROM old_certifications) a
    ) c
    WHERE m.id = c.mentor_id AND m.current_expires_on IS DISTINCT FROM c.expires_on;
    RETURN NULL;
END
$$;

CREATE TRIGGER certifications_current_expiry_insert
    AFTER INSERT ON certifications
    REFERENCING NEW TABLE AS new_certifications
    FOR EACH STATEMENT EXECUTE FUNCTION mentors_current_expiry_after_insert();
CREATE TRIGGER certifications_current_expiry_update
    AFTER UPDATE ON certifications
    REFERENCING OLD TABLE AS old_certifications NEW TABLE AS changed_certifications
    FOR EACH STATEMENT EXECUTE FUNCTION mentors_current_expiry_recompute();
CREATE TRIGGER certifications_current_expiry_delete
    AFTER DELETE ON certifications
    REFERENCING OLD TABLE AS old_certifications
    FOR EACH STATEMENT EXECUTE FUNCTION mentors_current_expiry_after_delete();

-- Mentors registered before this migration; one without any certification stays NULL, unwritten.
UPDATE mentors m
SET current_expires_on = (SELECT max(c.expires_on) FROM certifications c WHERE c.mentor_id = m.id)
WHERE EXISTS (SELECT 1 FROM certifications c WHERE c.mentor_id = m.id);

-- Lapsed `active` mentors (`current_expires_on < today OR IS NULL`) and mentors whose certification
-- expires in the reminder window, per organisation: range scans that read only what they return.
CREATE INDEX mentors_org_status_expiry_idx ON mentors (org_id, status, current_expires_on)
    WHERE status IN ('active', 'paused');
-- Paused mentors whose return date has come or is near.
CREATE INDEX mentors_org_paused_resume_idx ON mentors (org_id, resume_on) WHERE status = 'paused';
-- The digest lists the transitions a run made.
CREATE INDEX status_history_run_idx ON status_history (run_id) WHERE run_id IS NOT NULL;
-- The compensation check groups each organisation's automatic expiries, reminder notifications and
-- digest notifications by what must be unique about them; these keep it from reading whole tables.
CREATE INDEX status_history_system_expiry_idx
    ON status_history (org_id, mentor_id, certification_expires_on)
    WHERE actor_kind = 'system' AND to_status = 'certification_expired';
CREATE INDEX notifications_reminder_idx
    ON notifications (org_id, mentor_id, (payload ->> 'threshold_days'), (payload ->> 'certification_expires_on'))
    WHERE kind = 'certification_reminder';
CREATE INDEX notifications_digest_idx
    ON notifications (org_id, recipient_user_id, (payload ->> 'business_date'))
    WHERE kind = 'coordinator_digest';
