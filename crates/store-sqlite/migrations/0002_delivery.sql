-- Delivery outside the application, as the PostgreSQL backend's migration 0006: emails (for
-- notifications and for alerts) and the operations webhook (for alerts), each an outbox claimed with
-- leases, each event with a unique key in its outbox.

-- The language of a user's emails; NULL: the organisation's (`settings.locale`), else nb.
ALTER TABLE users ADD COLUMN locale TEXT NULL CONSTRAINT users_locale_check CHECK (locale IN ('nb', 'en'));

-- One email to send. A notification's email has the notification's id; an alert's has a UUIDv7 of
-- its own, its alert and a unique `dedupe_key` (`alert:{alert_id}:{event}:{reminder date or ''}`).
CREATE TABLE email_outbox (
    id              BLOB PRIMARY KEY NOT NULL,
    org_id          BLOB NULL,
    to_address      TEXT NOT NULL,
    recipient_name  TEXT NULL,
    locale          TEXT NOT NULL CONSTRAINT email_outbox_locale_check CHECK (locale IN ('nb', 'en')),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL CONSTRAINT email_outbox_payload_json CHECK (json_valid(payload)),
    alert_id        BLOB NULL,
    dedupe_key      TEXT NULL CONSTRAINT email_outbox_dedupe_key UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending' CONSTRAINT email_outbox_state_check
                        CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at    TEXT NOT NULL,
    lease_owner     BLOB NULL,
    leased_until    TEXT NULL,
    last_error      TEXT NULL,
    first_failed_at TEXT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT NULL
) STRICT;
CREATE INDEX email_outbox_pending_idx ON email_outbox (available_at, id) WHERE state = 'pending';
CREATE INDEX email_outbox_dead_idx ON email_outbox (created_at) WHERE state = 'dead';
CREATE INDEX email_outbox_alert_idx ON email_outbox (alert_id, created_at) WHERE alert_id IS NOT NULL;

-- One webhook post to send; `event_key` is `opened`, `reminder:{date}` or `resolved`.
CREATE TABLE webhook_outbox (
    id              BLOB PRIMARY KEY NOT NULL,
    alert_id        BLOB NOT NULL REFERENCES alerts (id),
    event           TEXT NOT NULL CONSTRAINT webhook_outbox_event_check
                        CHECK (event IN ('opened', 'reminder', 'resolved')),
    event_key       TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CONSTRAINT webhook_outbox_state_check
                        CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at    TEXT NOT NULL,
    lease_owner     BLOB NULL,
    leased_until    TEXT NULL,
    last_error      TEXT NULL,
    first_failed_at TEXT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT NULL,
    CONSTRAINT webhook_outbox_alert_event_key UNIQUE (alert_id, event_key)
) STRICT;
CREATE INDEX webhook_outbox_pending_idx ON webhook_outbox (available_at, id) WHERE state = 'pending';
CREATE INDEX webhook_outbox_dead_idx ON webhook_outbox (created_at) WHERE state = 'dead';

-- Every notification of an organisation that enables email is emailed to its recipient, in the
-- notification's transaction, whoever writes it. Row by row: SQLite has no statement-level triggers,
-- and the WHEN clause (one lookup of the organisation by its key) keeps it cheap while email is off.
-- The recipient: a user (their address, the name of the mentor they log in as) or a mentor (their
-- address and name, the language of their login if they have one); then the organisation's language,
-- then nb (a locale the settings do not know, a hand edit, falls back rather than refuse the
-- notification).
CREATE TRIGGER notifications_queue_email AFTER INSERT ON notifications
    WHEN (SELECT settings ->> '$.email_enabled' FROM organisations WHERE id = NEW.org_id) = 1
BEGIN
    INSERT INTO email_outbox (id, org_id, to_address, recipient_name, locale, kind, payload,
                              available_at, created_at)
    SELECT NEW.id, NEW.org_id, r.email, r.name,
           COALESCE(r.locale,
                    CASE WHEN o.settings ->> '$.locale' IN ('nb', 'en') THEN o.settings ->> '$.locale' END,
                    'nb'),
           NEW.kind, NEW.payload,
           strftime('%Y-%m-%dT%H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000Z',
           NEW.created_at
    FROM organisations o,
         (SELECT u.email AS email, m.full_name AS name, u.locale AS locale
          FROM users u LEFT JOIN mentors m ON m.id = u.mentor_id
          WHERE u.id = NEW.recipient_user_id
          UNION ALL
          SELECT m.email, m.full_name, (SELECT l.locale FROM users l WHERE l.mentor_id = m.id)
          FROM mentors m
          WHERE m.id = NEW.recipient_mentor_id) r
    WHERE o.id = NEW.org_id;
END;
