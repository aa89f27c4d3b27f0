-- Delivery outside the application: emails (for notifications and for alerts) and the operations
-- webhook (for alerts). Both are outboxes claimed with leases; every event has a unique key in its
-- outbox, so it is queued once whoever queues it, and a message keeps its id across attempts.

-- The language of a user's emails; NULL: the organisation's (`settings.locale`), else nb.
ALTER TABLE users ADD COLUMN locale text NULL CONSTRAINT users_locale_check CHECK (locale IN ('nb', 'en'));

-- One email to send. A notification's email has the notification's id (the Message-ID is made from
-- it); an alert's has a UUIDv7 of its own, its alert and a unique `dedupe_key`
-- (`alert:{alert_id}:{event}:{reminder date or ''}`).
CREATE TABLE email_outbox (
    id              uuid PRIMARY KEY,
    -- NULL for an alert about the whole deployment.
    org_id          uuid NULL,
    to_address      text NOT NULL,
    recipient_name  text NULL,
    locale          text NOT NULL CONSTRAINT email_outbox_locale_check CHECK (locale IN ('nb', 'en')),
    -- A notification kind, or alert_opened / alert_reminder / alert_resolved.
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    -- Alert emails: the alert they tell of, and one row per (alert, event).
    alert_id        uuid NULL,
    dedupe_key      text NULL CONSTRAINT email_outbox_dedupe_key UNIQUE,
    state           text NOT NULL DEFAULT 'pending' CONSTRAINT email_outbox_state_check
                        CHECK (state IN ('pending', 'sent', 'dead')),
    -- Failed attempts, and when the first failed (the retry budget counts from it).
    attempts        int NOT NULL DEFAULT 0,
    available_at    timestamptz NOT NULL DEFAULT now(),
    -- A sender's claim; an expired lease is claimed again.
    lease_owner     uuid NULL,
    leased_until    timestamptz NULL,
    last_error      text NULL,
    first_failed_at timestamptz NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz NULL
);
-- Senders claim the oldest due rows (FOR UPDATE SKIP LOCKED).
CREATE INDEX email_outbox_pending_idx ON email_outbox (available_at, id) WHERE state = 'pending';
CREATE INDEX email_outbox_dead_idx ON email_outbox (created_at) WHERE state = 'dead';
-- An alert's notices: was it told, and when last.
CREATE INDEX email_outbox_alert_idx ON email_outbox (alert_id, created_at) WHERE alert_id IS NOT NULL;

-- One webhook post to send: an alert's opening, a daily reminder while it stays open, its resolution.
-- `event_key` is `opened`, `reminder:{date}` or `resolved`; `created_at` is the queuing caller's
-- clock, from which the next reminder is counted.
CREATE TABLE webhook_outbox (
    id              uuid PRIMARY KEY,
    alert_id        uuid NOT NULL REFERENCES alerts (id),
    event           text NOT NULL CONSTRAINT webhook_outbox_event_check
                        CHECK (event IN ('opened', 'reminder', 'resolved')),
    event_key       text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CONSTRAINT webhook_outbox_state_check
                        CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    available_at    timestamptz NOT NULL DEFAULT now(),
    lease_owner     uuid NULL,
    leased_until    timestamptz NULL,
    last_error      text NULL,
    first_failed_at timestamptz NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz NULL,
    CONSTRAINT webhook_outbox_alert_event_key UNIQUE (alert_id, event_key)
);
CREATE INDEX webhook_outbox_pending_idx ON webhook_outbox (available_at, id) WHERE state = 'pending';
CREATE INDEX webhook_outbox_dead_idx ON webhook_outbox (created_at) WHERE state = 'dead';

-- Every notification of an organisation that enables email is emailed to its recipient, queued in
-- the notification's own transaction whoever writes it (the store's batches, a hand edit in SQL).
-- Statement-level with a transition table: a batch of thousands costs one INSERT … SELECT. Most
-- organisations never enable email and the nightly run writes tens of thousands of notifications per
-- statement, so the (small) organisations table is asked first and the new rows are only read when
-- some organisation enables email.
CREATE FUNCTION notifications_queue_emails() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM organisations WHERE settings @> '{"email_enabled": true}') THEN
        RETURN NULL;
    END IF;
    -- The recipient: a user (their address, the name of the mentor they log in as) or a mentor (their
    -- address and name, the language of their login if they have one). A locale the settings do not
    -- know (a hand edit) falls back to nb rather than refuse the notification.
    INSERT INTO email_outbox (id, org_id, to_address, recipient_name, locale, kind, payload,
                              available_at, created_at)
    SELECT n.id, n.org_id, COALESCE(u.email, m.email), COALESCE(m.full_name, um.full_name),
           COALESCE(u.locale, mu.locale,
                    CASE WHEN o.settings ->> 'locale' IN ('nb', 'en') THEN o.settings ->> 'locale' END,
                    'nb'),
           n.kind, n.payload,
           now(), n.created_at
    FROM new_notifications n
    JOIN organisations o ON o.id = n.org_id AND o.settings @> '{"email_enabled": true}'
    LEFT JOIN users u ON u.id = n.recipient_user_id
    LEFT JOIN mentors um ON um.id = u.mentor_id
    LEFT JOIN mentors m ON m.id = n.recipient_mentor_id
    LEFT JOIN users mu ON mu.mentor_id = n.recipient_mentor_id
    WHERE COALESCE(u.email, m.email) IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_queue_emails
    AFTER INSERT ON notifications
    REFERENCING NEW TABLE AS new_notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_queue_emails();
