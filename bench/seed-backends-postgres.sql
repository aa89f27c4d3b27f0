-- Population for scripts/bench-backends.sh on PostgreSQL: 100,000 mentors in the organisation `bench`
-- (made beforehand with `mentor-status orgs add`, with its coordinator from `users add`). The SAME
-- population as bench/seed-backends-sqlite.sql, row for row (same ids, names, dates and statuses);
-- only the SQL dialect differs. For mentor n (0 … 99,999), with k = n × 7919 mod 100,000 (a
-- permutation of 0 … 99,999, so the expiry dates do not follow the ids' creation order):
--   * id 01938a00-0000-7000-8000-<n as 12 hex digits> (UUIDv7-shaped, in creation order);
--   * one certification (id prefix 01938a01) whose last valid day is :today − 365 + ⌊k × 1096 / 100,000⌋:
--     evenly from a year ago to two years ahead (a third lapsed, ≈ 91 per day), issued 730 days before;
--   * n % 5 = 0 (20 %) paused, reason `ferie`, version 2; the others active, version 1;
--   * n % 10 = 0 (10 %, half the paused) with a return date :today − 16 + (n / 10) % 60, so about
--     17/60 of those returns are due on the first run and 3/60 more get a resume notice;
--   * status_history: a `registered` row (system) for every mentor, and an active → paused row by the
--     coordinator for each paused one. No outbox or mentor_sync rows (no listing sync configured).
-- This is bench/seed-expiry.sql's mix scaled to one organisation of 100,000. `current_expires_on`
-- (kept by a trigger on certifications) is written with the mentor, so the trigger finds it current.
-- Run with: psql -v today=YYYY-MM-DD -f seed-backends-postgres.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
SELECT n,
       ('01938a00-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid AS mentor_id,
       ('01938a01-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid AS certification_id,
       :'today'::date - 365 + ((n * 7919) % 100000) * 1096 / 100000 AS expires_on,
       CASE WHEN n % 5 = 0 THEN 'paused' ELSE 'active' END AS status,
       CASE WHEN n % 10 = 0 THEN :'today'::date - 16 + (n / 10) % 60 END AS resume_on
FROM generate_series(0, 99999) n;

INSERT INTO mentors (id, org_id, full_name, email, status, status_reason, status_changed_at, resume_on,
                     listed_publicly, version, current_expires_on, created_at, updated_at)
SELECT s.mentor_id, o.id,
       'Bench Mentor ' || lpad(s.n::text, 6, '0'),
       'mentor' || lpad(s.n::text, 6, '0') || '@bench.example.org',
       s.status,
       CASE WHEN s.status = 'paused' THEN 'ferie' END,
       now(), s.resume_on, true,
       CASE WHEN s.status = 'paused' THEN 2 ELSE 1 END,
       s.expires_on, now(), now()
FROM bench_seed s, organisations o
WHERE o.slug = 'bench'
ORDER BY s.n;

INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at)
SELECT certification_id, mentor_id, 'likeperson', expires_on - 730, expires_on, now()
FROM bench_seed
ORDER BY n;

INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, occurred_at)
SELECT o.id, s.mentor_id, NULL, 'active', 'registered', 'system', now()
FROM bench_seed s, organisations o
WHERE o.slug = 'bench'
ORDER BY s.n;

INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, actor_user_id,
                            occurred_at)
SELECT o.id, s.mentor_id, 'active', 'paused', 'ferie', 'user', u.id, now()
FROM bench_seed s, organisations o, users u
WHERE o.slug = 'bench' AND u.email = 'coordinator@bench.example.org' AND s.status = 'paused'
ORDER BY s.n;
COMMIT;
-- A database that has been in use for a while has been vacuumed and analysed by autovacuum.
VACUUM ANALYZE;
