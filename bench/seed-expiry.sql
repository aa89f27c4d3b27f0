-- Population for scripts/bench-expiry.sh (the nightly run's benchmark): 1,000,000 mentors in 100 organisations
-- with one coordinator each; certifications expire evenly from one year before :today to two years
-- after; 20 % are paused, half of those with a return date spread over 60 days from :today − 16
-- (so about 28 % of those returns are due on the first run). Every organisation gets the same mix:
-- mentor n belongs to organisation n % 100, and its status and return date follow n / 100. Mentor ids
-- are derived from their number, so certifications can be inserted with them; `current_expires_on`
-- (kept by a trigger on certifications) is written with the mentor, so the trigger finds it current.
-- Run with: psql -v today=YYYY-MM-DD -f seed-expiry.sql
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO organisations (id, slug, name, timezone)
SELECT md5('org' || g)::uuid, 'org' || g, 'Organisation ' || g, 'Europe/Oslo'
FROM generate_series(0, 99) g;

INSERT INTO users (id, org_id, email, role, auth_subject)
SELECT md5('user' || g)::uuid, md5('org' || g)::uuid, 'coordinator@org' || g || '.example.org',
       'coordinator', 'coordinator-org' || g
FROM generate_series(0, 99) g;

INSERT INTO mentors (id, org_id, full_name, email, status, status_reason, status_changed_at, resume_on,
                     listed_publicly, version, current_expires_on, created_at, updated_at)
SELECT md5('mentor' || n)::uuid,
       md5('org' || (n % 100))::uuid,
       'Mentor ' || n,
       'mentor' || n || '@example.org',
       CASE WHEN (n / 100) % 5 = 0 THEN 'paused' ELSE 'active' END,
       CASE WHEN (n / 100) % 5 = 0 THEN 'benchmark' END,
       now(),
       CASE WHEN (n / 100) % 10 = 0 THEN :'today'::date - 16 + ((n / 1000) % 60)::int END,
       true, 1,
       :'today'::date - 365 + (n * 1096 / 1000000)::int,
       now(), now()
FROM generate_series(0, 999999) n;

INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at)
SELECT md5('certification' || n)::uuid,
       md5('mentor' || n)::uuid,
       'likeperson',
       :'today'::date - 365 + (n * 1096 / 1000000)::int - 730,
       :'today'::date - 365 + (n * 1096 / 1000000)::int,
       now()
FROM generate_series(0, 999999) n;
COMMIT;
ANALYZE;
