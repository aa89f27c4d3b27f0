-- Population for scripts/bench-backends.sh on SQLite: 100,000 mentors in the organisation `bench`
-- (made beforehand with `mentor-status orgs add`, with its coordinator from `users add`). The SAME
-- population as bench/seed-backends-postgres.sql, row for row (same ids, names, dates and statuses);
-- see that file for the mix. In SQLite's terms (crates/store-sqlite/migrations/0001_schema.sql):
-- ids are 16-byte BLOBs, instants TEXT `YYYY-MM-DDTHH:MM:SS.ffffffZ`, dates TEXT `YYYY-MM-DD`,
-- `full_name_lower` the lower-cased name. The date comes from the temporary table
-- bench_params(name, value) that crates/cli/examples/bench_sqlite_exec.rs fills from its arguments.
-- No ANALYZE: the SQLite backend never runs it, so a database in use has no statistics either.
-- Run with: cargo run --release -p mentor-status-cli --example bench_sqlite_exec -- \
--             FILE.db bench/seed-backends-sqlite.sql today=YYYY-MM-DD
BEGIN IMMEDIATE;
CREATE TEMP TABLE bench_seed AS
WITH RECURSIVE
    s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 99999),
    p(today) AS (SELECT value FROM bench_params WHERE name = 'today')
SELECT n,
       unhex(printf('01938a00000070008000%012x', n)) AS mentor_id,
       unhex(printf('01938a01000070008000%012x', n)) AS certification_id,
       date(p.today, printf('%+d days', -365 + ((n * 7919) % 100000) * 1096 / 100000)) AS expires_on,
       CASE WHEN n % 5 = 0 THEN 'paused' ELSE 'active' END AS status,
       CASE WHEN n % 10 = 0 THEN date(p.today, printf('%+d days', -16 + (n / 10) % 60)) END AS resume_on
FROM s, p;

CREATE TEMP TABLE bench_now AS
SELECT strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z' AS now;

INSERT INTO mentors (id, org_id, full_name, full_name_lower, email, phone, status, status_reason,
                     status_changed_at, resume_on, listed_publicly, version, current_expires_on,
                     created_at, updated_at)
SELECT s.mentor_id, o.id,
       printf('Bench Mentor %06d', s.n),
       printf('bench mentor %06d', s.n),
       printf('mentor%06d@bench.example.org', s.n),
       NULL,
       s.status,
       CASE WHEN s.status = 'paused' THEN 'ferie' END,
       t.now, s.resume_on, 1,
       CASE WHEN s.status = 'paused' THEN 2 ELSE 1 END,
       s.expires_on, t.now, t.now
FROM bench_seed s, organisations o, bench_now t
WHERE o.slug = 'bench'
ORDER BY s.n;

INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at)
SELECT s.certification_id, s.mentor_id, 'likeperson', date(s.expires_on, '-730 days'), s.expires_on, t.now
FROM bench_seed s, bench_now t
ORDER BY s.n;

INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, occurred_at)
SELECT o.id, s.mentor_id, NULL, 'active', 'registered', 'system', t.now
FROM bench_seed s, organisations o, bench_now t
WHERE o.slug = 'bench'
ORDER BY s.n;

INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, actor_user_id,
                            occurred_at)
SELECT o.id, s.mentor_id, 'active', 'paused', 'ferie', 'user', u.id, t.now
FROM bench_seed s, organisations o, users u, bench_now t
WHERE o.slug = 'bench' AND u.email = 'coordinator@bench.example.org' AND s.status = 'paused'
ORDER BY s.n;
COMMIT;
DROP TABLE bench_seed;
DROP TABLE bench_now;
