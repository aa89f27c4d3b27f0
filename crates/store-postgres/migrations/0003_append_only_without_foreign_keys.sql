-- The append-only tables (history, outbox, notifications, reminder and notice ledgers) stop checking
-- their mentor reference with foreign keys. Each check is a per-row trigger that locks the mentor row
-- again; measured on the nightly run it was 60 % of the time of the statement that applies a batch of
-- changes (4 checks per changed mentor). Every such row is written by the same statement that
-- compare-and-sets the mentor (so the mentor exists), and mentors are never deleted — that is now
-- enforced below instead, so the references stay as sound as the foreign keys made them.
ALTER TABLE status_history DROP CONSTRAINT status_history_mentor_id_fkey;
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_mentor_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_recipient_mentor_id_fkey;
ALTER TABLE notifications DROP CONSTRAINT notifications_mentor_id_fkey;
ALTER TABLE cert_expiry_reminders DROP CONSTRAINT cert_expiry_reminders_mentor_id_fkey;
ALTER TABLE resume_notices DROP CONSTRAINT resume_notices_mentor_id_fkey;

-- A mentor leaves by deactivation (status `inactive`), never by deletion: their history is the record.
CREATE FUNCTION mentors_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mentors are never deleted; deactivate the mentor instead'
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER mentors_refuse_delete BEFORE DELETE ON mentors
    FOR EACH STATEMENT EXECUTE FUNCTION mentors_refuse_delete();
CREATE TRIGGER mentors_refuse_truncate BEFORE TRUNCATE ON mentors
    FOR EACH STATEMENT EXECUTE FUNCTION mentors_refuse_delete();
