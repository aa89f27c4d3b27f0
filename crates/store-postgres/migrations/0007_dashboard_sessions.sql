-- Dashboard logins: server-side sessions, and failed logins counted for the rate limit (in the
-- database, so the limit holds across every instance).

-- One signed-in browser. Its cookie holds a random token; only the token's SHA-256 is kept, so a
-- copy of this table signs nobody in. A session ends at `expires_at` (absolute), when it has not been
-- seen for the idle timeout (`last_seen_at`, judged by the application's clock), or at logout
-- (deleted).
CREATE TABLE dashboard_sessions (
    token_hash   bytea PRIMARY KEY
                     CONSTRAINT dashboard_sessions_token_hash_check CHECK (length(token_hash) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The anti-CSRF token every form of the session repeats.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT dashboard_sessions_expiry_check CHECK (expires_at > created_at)
);
CREATE INDEX dashboard_sessions_user_idx ON dashboard_sessions (user_id);
CREATE INDEX dashboard_sessions_expires_idx ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_last_seen_idx ON dashboard_sessions (last_seen_at);

-- One failed login: the account (normalised email, known or not) and the client address it came
-- from. Counted per account and per address over a recent window; pruned when old.
CREATE TABLE dashboard_login_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account   text NOT NULL,
    address   text NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX dashboard_login_failures_account_idx ON dashboard_login_failures (account, failed_at);
CREATE INDEX dashboard_login_failures_address_idx ON dashboard_login_failures (address, failed_at);
CREATE INDEX dashboard_login_failures_failed_at_idx ON dashboard_login_failures (failed_at);
