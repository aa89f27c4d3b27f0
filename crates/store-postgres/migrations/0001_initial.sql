-- The first schema of mentor-status on PostgreSQL. Constraint names are part of the contract: the store
-- maps them to `store::Constraint`, so rename them only together with `src/error.rs`.
--
-- The append-only tables written by every change (status_history, sync_outbox, notifications) reference
-- their mentor, but not the organisation or the acting/receiving user: a foreign-key check share-locks
-- the parent row, and every concurrent change sharing one organisation or coordinator row turns those
-- locks into multixacts, which made concurrent writes several times slower. The store writes org_id
-- from the mentor's row and user ids from our own users table; users and organisations are never deleted.

-- Tenants. Everything else hangs off an organisation, and no query crosses one.
CREATE TABLE organisations (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL CONSTRAINT organisations_slug_key UNIQUE,
    name       text NOT NULL,
    -- The business date is computed in this zone (IANA name, parsed by the domain).
    timezone   text NOT NULL DEFAULT 'Europe/Oslo',
    -- Per-organisation overrides (reminder thresholds, feature flags); shape owned by the engine.
    settings   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The single source of truth for a mentor's availability. `version` is the compare-and-set token every
-- change bumps; `pushed_*` record what the public listing last received, so lag and drift are visible.
CREATE TABLE mentors (
    id                  uuid PRIMARY KEY,
    org_id              uuid NOT NULL REFERENCES organisations (id),
    full_name           text NOT NULL,
    email               text NOT NULL,
    phone               text NULL,
    status              text NOT NULL CONSTRAINT mentors_status_check
                            CHECK (status IN ('active', 'paused', 'certification_expired', 'inactive')),
    status_reason       text NULL,
    status_changed_at   timestamptz NOT NULL,
    resume_on           date NULL,
    listed_publicly     boolean NOT NULL DEFAULT true,
    -- A mentor links to Dynamics by contact id or by alternate key, never both.
    dynamics_contact_id uuid NULL,
    dynamics_key        text NULL,
    version             bigint NOT NULL DEFAULT 1 CONSTRAINT mentors_version_check CHECK (version >= 1),
    pushed_version      bigint NULL,
    pushed_at           timestamptz NULL,
    sync_last_error     text NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    -- Only a pause carries a return date.
    CONSTRAINT mentors_resume_on_only_when_paused CHECK (resume_on IS NULL OR status = 'paused'),
    CONSTRAINT mentors_one_dynamics_link CHECK (dynamics_contact_id IS NULL OR dynamics_key IS NULL),
    CONSTRAINT mentors_org_email_key UNIQUE (org_id, email),
    CONSTRAINT mentors_org_dynamics_contact_key UNIQUE (org_id, dynamics_contact_id),
    CONSTRAINT mentors_org_dynamics_key_key UNIQUE (org_id, dynamics_key)
);
-- The mentor list is keyset-paginated by (full_name, id) within an organisation, optionally by status.
CREATE INDEX mentors_org_name_idx ON mentors (org_id, full_name, id);
CREATE INDEX mentors_org_status_name_idx ON mentors (org_id, status, full_name, id);

-- Certification periods; the current one is the latest `expires_on`. Old periods stay as a record.
CREATE TABLE certifications (
    id         uuid PRIMARY KEY,
    mentor_id  uuid NOT NULL REFERENCES mentors (id) ON DELETE CASCADE,
    kind       text NOT NULL DEFAULT 'likeperson',
    issued_on  date NOT NULL,
    -- The last valid day.
    expires_on date NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT certifications_period_check CHECK (expires_on >= issued_on)
);
-- The current certification of a mentor.
CREATE INDEX certifications_mentor_expires_idx ON certifications (mentor_id, expires_on DESC);
-- The nightly expiry run looks for certifications by date across all mentors.
CREATE INDEX certifications_expires_idx ON certifications (expires_on);

-- Logins. Authorization comes from this table, never from token claims alone.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organisations (id),
    -- Lower-cased by the domain; globally unique so a login names one user.
    email         text NOT NULL CONSTRAINT users_email_key UNIQUE,
    role          text NOT NULL CONSTRAINT users_role_check CHECK (role IN ('mentor', 'coordinator', 'admin')),
    -- The mentor this login belongs to; one login per mentor.
    mentor_id     uuid NULL REFERENCES mentors (id) CONSTRAINT users_mentor_id_key UNIQUE,
    -- What a token's `sub` claim must say to be this user.
    auth_subject  text NOT NULL CONSTRAINT users_auth_subject_key UNIQUE,
    -- argon2id PHC string, for dashboard logins.
    password_hash text NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Only a mentor login may speak for a mentor (a mentor login without a link is allowed while set up).
    CONSTRAINT users_mentor_link_role_check CHECK (mentor_id IS NULL OR role = 'mentor')
);
-- Notifications to "every coordinator of the organisation" are resolved by this lookup.
CREATE INDEX users_org_role_idx ON users (org_id, role);

-- Append-only record of every status change: who, when, from, to, why. System transitions carry a unique
-- idempotency key (e.g. `expired:{mentor}:{expires_on}`) so a job run twice cannot record a change twice.
CREATE TABLE status_history (
    id              bigserial PRIMARY KEY,
    org_id          uuid NOT NULL,
    mentor_id       uuid NOT NULL REFERENCES mentors (id),
    -- NULL for the row that records the mentor's registration.
    from_status     text NULL CONSTRAINT status_history_from_status_check
                        CHECK (from_status IN ('active', 'paused', 'certification_expired', 'inactive')),
    to_status       text NOT NULL CONSTRAINT status_history_to_status_check
                        CHECK (to_status IN ('active', 'paused', 'certification_expired', 'inactive')),
    reason          text NULL,
    actor_kind      text NOT NULL CONSTRAINT status_history_actor_kind_check CHECK (actor_kind IN ('user', 'system')),
    actor_user_id   uuid NULL,
    idempotency_key text NULL CONSTRAINT status_history_idempotency_key_key UNIQUE,
    -- The job run that made a system change; its effects are listed in the coordinator digest.
    run_id          uuid NULL,
    -- The certification expiry date a system transition was decided on, for the compensation check.
    certification_expires_on date NULL,
    occurred_at     timestamptz NOT NULL,
    -- A user actor names the user; the system names nobody.
    CONSTRAINT status_history_actor_check CHECK ((actor_kind = 'user') = (actor_user_id IS NOT NULL))
);
-- History of one mentor, newest first, keyset by id.
CREATE INDEX status_history_mentor_idx ON status_history (mentor_id, id DESC);

-- Transactional outbox: every change that affects the public listing writes a row in the same transaction,
-- and the relay pushes the mentor's CURRENT state later, outside any transaction.
CREATE TABLE sync_outbox (
    id             bigserial PRIMARY KEY,
    org_id         uuid NOT NULL,
    mentor_id      uuid NOT NULL REFERENCES mentors (id),
    -- The mentor version that caused this row; the relay pushes whatever is current.
    mentor_version bigint NOT NULL,
    -- Force sync queues at a higher priority.
    priority       smallint NOT NULL DEFAULT 0,
    state          text NOT NULL DEFAULT 'pending' CONSTRAINT sync_outbox_state_check
                       CHECK (state IN ('pending', 'done', 'dead')),
    attempts       int NOT NULL DEFAULT 0,
    available_at   timestamptz NOT NULL DEFAULT now(),
    -- A claim by one relay instance; expired leases are claimed again.
    leased_until   timestamptz NULL,
    last_error     text NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    done_at        timestamptz NULL
);
-- The relay claims the most urgent pending rows first (FOR UPDATE SKIP LOCKED).
CREATE INDEX sync_outbox_pending_idx ON sync_outbox (priority DESC, available_at, id) WHERE state = 'pending';
-- Coalescing by mentor and "does this mentor have pending rows" look up by mentor.
CREATE INDEX sync_outbox_mentor_idx ON sync_outbox (mentor_id, id);

-- In-app notifications, addressed to one user or to a mentor (whose login sees them), listed newest
-- first by `seq`.
CREATE TABLE notifications (
    id                  uuid PRIMARY KEY,
    -- Creation order: ids made inside one statement share a millisecond and do not sort by it.
    seq                 bigserial NOT NULL,
    org_id              uuid NOT NULL,
    recipient_user_id   uuid NULL,
    recipient_mentor_id uuid NULL REFERENCES mentors (id),
    kind                text NOT NULL,
    -- The mentor the notification is about.
    mentor_id           uuid NULL REFERENCES mentors (id),
    payload             jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    read_at             timestamptz NULL,
    CONSTRAINT notifications_one_recipient_check
        CHECK ((recipient_user_id IS NULL) <> (recipient_mentor_id IS NULL))
);
CREATE INDEX notifications_user_idx ON notifications (recipient_user_id, seq DESC);
CREATE INDEX notifications_mentor_idx ON notifications (recipient_mentor_id, seq DESC);

-- Idempotency keys of API requests. The row is inserted first (the insert that wins is the claim); a
-- finished request keeps its response for replay.
CREATE TABLE idempotency_keys (
    user_id               uuid NOT NULL REFERENCES users (id),
    key                   text NOT NULL,
    -- A hash of the request; the same key with another request is refused.
    fingerprint           text NOT NULL,
    response_status       smallint NULL,
    response_content_type text NULL,
    response_body         bytea NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    completed_at          timestamptz NULL,
    PRIMARY KEY (user_id, key),
    -- A response is stored whole, when the request completes.
    CONSTRAINT idempotency_keys_response_check CHECK (
        (response_status IS NULL) = (completed_at IS NULL)
        AND (response_status IS NULL) = (response_content_type IS NULL)
        AND (response_status IS NULL) = (response_body IS NULL)
    )
);
