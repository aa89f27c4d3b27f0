-- The public listing sync (DESIGN.md §2): per-mentor sync state and relay leases, outbox rows for
-- changes made by hand in SQL, wake-ups for the relay, and the credential check log.

-- What the relay knows about each mentor, kept apart from `mentors` so the relay never contends with
-- the compare-and-set of a status change. `leased_until` gives one relay at a time a mentor (its
-- pending rows are pushed as one coalesced state); an expired lease is taken over.
CREATE TABLE mentor_sync (
    mentor_id      uuid PRIMARY KEY,
    org_id         uuid NOT NULL,
    pushed_version bigint NULL,
    pushed_at      timestamptz NULL,
    -- NULL while pushes succeed; `retrying` after a transient failure; `dead` after a permanent one
    -- or when the retry budget ran out; `not_found` when the remote record is gone.
    failure        text NULL CONSTRAINT mentor_sync_failure_check
                       CHECK (failure IN ('retrying', 'dead', 'not_found')),
    last_error     text NULL,
    -- Failed attempts since the last success (429s are not attempts), and since when it fails.
    attempts       int NOT NULL DEFAULT 0,
    failing_since  timestamptz NULL,
    lease_owner    uuid NULL,
    leased_until   timestamptz NULL
);
CREATE INDEX mentor_sync_org_failure_idx ON mentor_sync (org_id, failure) WHERE failure IS NOT NULL;

-- The pushed state moves from `mentors` to `mentor_sync`.
ALTER TABLE mentors DROP COLUMN pushed_version, DROP COLUMN pushed_at, DROP COLUMN sync_last_error;

-- The relay claims per organisation (each has its own integration).
DROP INDEX sync_outbox_pending_idx;
CREATE INDEX sync_outbox_pending_idx ON sync_outbox (org_id, priority DESC, available_at, id)
    WHERE state = 'pending';
-- Lag percentiles read recently confirmed rows.
CREATE INDEX sync_outbox_done_idx ON sync_outbox (org_id, done_at) WHERE state = 'done';
CREATE INDEX sync_outbox_dead_idx ON sync_outbox (org_id, id) WHERE state = 'dead';
-- Coalescing and "has this mentor pending rows" look only at pending rows.
DROP INDEX sync_outbox_mentor_idx;
CREATE INDEX sync_outbox_mentor_pending_idx ON sync_outbox (mentor_id, id) WHERE state = 'pending';

-- A status or visibility changed by hand in SQL (the application always bumps `version` and queues
-- the row itself) gets a new version and an outbox row, so the public listing follows it too.
CREATE FUNCTION mentors_queue_manual_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    INSERT INTO sync_outbox (org_id, mentor_id, mentor_version) VALUES (NEW.org_id, NEW.id, NEW.version);
    RETURN NEW;
END;
$$;
CREATE TRIGGER mentors_queue_manual_change BEFORE UPDATE OF status, listed_publicly ON mentors
    FOR EACH ROW
    WHEN (NEW.version = OLD.version
          AND (NEW.status IS DISTINCT FROM OLD.status
               OR NEW.listed_publicly IS DISTINCT FROM OLD.listed_publicly))
    EXECUTE FUNCTION mentors_queue_manual_change();

-- Wake the relays of the organisations that got new rows (delivered at commit; polling is the fallback).
CREATE FUNCTION sync_outbox_wake_relays() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mentor_status_sync', org_id::text) FROM (SELECT DISTINCT org_id FROM new_rows) o;
    RETURN NULL;
END;
$$;
CREATE TRIGGER sync_outbox_wake_relays AFTER INSERT ON sync_outbox
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync_outbox_wake_relays();

-- The latest credential check per organisation (token + WhoAmI).
CREATE TABLE credential_checks (
    org_id     uuid PRIMARY KEY REFERENCES organisations (id),
    checked_at timestamptz NOT NULL,
    ok         boolean NOT NULL,
    detail     text NULL
);
