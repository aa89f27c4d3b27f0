-- Population for scripts/bench-month.sh (crates/cli/examples/bench_month.rs): :mentors mentors
-- (default run: 100,000) in the organisation `bench` (made beforehand with `mentor-status orgs add`,
-- with its coordinator from `users add`), every one linked to a contact of the Dataverse simulator,
-- in the state a real go-live leaves them in (statuses agree with the dates, as `import mentors`
-- would set them), so that the first night is the go-live night and the other nights a steady month.
-- :today is the first simulated business date. For mentor n (0 … :mentors − 1), with
-- k = n × 7919 mod :mentors (a permutation of 0 … :mentors − 1 while :mentors is not a multiple of
-- the prime 7919, so the expiry dates do not follow the ids' creation order):
--   * id 01938a00-0000-7000-8000-<n as 12 hex digits> (UUIDv7-shaped, in creation order);
--   * dynamics_contact_id = the simulator's demo contact n + 1 (dataverse_sim::demo::contact_id,
--     5eed0000-0000-4000-8000-<n + 1 as 12 hex digits>; the driver creates them, all hidden);
--   * one certification (id prefix 01938a01) whose last valid day is :today − 365 + ⌊k × 1096 / :mentors⌋:
--     evenly from a year ago to two years ahead (≈ 91 a day for 100,000), issued 730 days before;
--   * certification already over (last valid day before :today, a third): `certification_expired`;
--   * otherwise n % 5 = 0 `paused` (reason `ferie`, version 2), the others `active` (version 1);
--     n % 10 = 0 of the paused with a return date :today + 1 + (n / 10) % 60 (≈ 110 a day for 100,000,
--     half of them within a 31-night month; resume notices 3 days before);
--   * for 100,000 from 2026-11-30: 53,358 active, 33,303 certification_expired, 13,339 paused; over 31
--     nights 2,253 lapses (none on the first night, ≈ 75 a night after), 3,339 automatic resumes,
--     11,041 reminders (2,829 on the first night, the catch-up of the 30-day window, with 2,099
--     skipped; ≈ 274 a night after), 3,675 resume notices and 31 digests: 20,339 emails;
--   * listed_publicly false for n % 20 = 3 (5 %), so the listing is not simply "active";
--   * status_history: a `registered` row (system) to the first status (active or
--     certification_expired) for every mentor, and an active → paused row by the coordinator for each
--     paused one. No outbox or mentor_sync rows: the first nightly listing sync finds every linked
--     mentor's pushed version behind and queues all of them (the go-live push).
-- Run with: psql -v today=YYYY-MM-DD -v mentors=N -f seed-month-postgres.sql
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
SELECT n, expires_on,
       ('01938a00-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid AS mentor_id,
       ('01938a01-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid AS certification_id,
       ('5eed0000-0000-4000-8000-' || lpad(to_hex(n + 1), 12, '0'))::uuid AS contact_id,
       CASE WHEN expires_on < :'today'::date THEN 'certification_expired'
            WHEN n % 5 = 0 THEN 'paused'
            ELSE 'active' END AS status,
       CASE WHEN expires_on >= :'today'::date AND n % 10 = 0
            THEN :'today'::date + 1 + (n / 10) % 60 END AS resume_on
FROM (
    SELECT n, :'today'::date - 365 + (((n::bigint * 7919) % :mentors) * 1096 / :mentors)::int AS expires_on
    FROM generate_series(0, :mentors - 1) n
) dates;

INSERT INTO mentors (id, org_id, full_name, email, status, status_reason, status_changed_at, resume_on,
                     listed_publicly, dynamics_contact_id, version, current_expires_on, created_at,
                     updated_at)
SELECT s.mentor_id, o.id,
       'Bench Mentor ' || lpad(s.n::text, 6, '0'),
       'mentor' || lpad(s.n::text, 6, '0') || '@bench.example.org',
       s.status,
       CASE WHEN s.status = 'paused' THEN 'ferie' END,
       now(), s.resume_on, s.n % 20 <> 3, s.contact_id,
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
SELECT o.id, s.mentor_id, NULL,
       CASE WHEN s.status = 'certification_expired' THEN 'certification_expired' ELSE 'active' END,
       'registered', 'system', now()
FROM bench_seed s, organisations o
WHERE o.slug = 'bench'
ORDER BY s.n;

INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, actor_user_id,
                            occurred_at)
SELECT o.id, s.mentor_id, 'active', 'paused', 'ferie', 'user', u.id, now()
FROM bench_seed s, organisations o, users u
WHERE o.slug = 'bench' AND u.email = 'coordinator@bench.example.org' AND s.status = 'paused'
ORDER BY s.n;

-- Every notification is also emailed (in English), as an admin would set with
-- PUT /api/v1/org/settings {"email_enabled": true, "locale": "en"}.
UPDATE organisations SET settings = settings || '{"email_enabled": true, "locale": "en"}'::jsonb
WHERE slug = 'bench';
COMMIT;
-- A database that has been in use for a while has been vacuumed and analysed by autovacuum.
VACUUM ANALYZE;
