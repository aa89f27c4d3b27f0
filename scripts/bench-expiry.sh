#!/usr/bin/env bash
# Benchmark of the nightly expiry run against a release build on local PostgreSQL:
# 1,000,000 mentors in 100 organisations (bench/seed-expiry.sql), then
#   1. the first run (≈267,000 lapses, ≈28,000 resumes, ≈28,000 reminders sent),
#   2. the next day's run,
#   3. an immediate re-run of that day,
# each timed as a whole process (`mentor-status expiry run`), with its peak RSS.
# Targets on a 2-core machine: ≤ 15 s, ≤ 2 s, ≤ 1.5 s, peak RSS ≤ 200 MB.
# Each run's effects are checked against counts taken from the seeded rows before the first run (the
# domain's rules as SQL, with the default reminder thresholds 30, 14 and 7 days): lapses, returns
# from a pause and reminders sent must match exactly, and the re-run must do nothing. A run whose
# counts differ is MISSED whatever its time.
#
# It creates the database mentor_status_bench_expiry on BENCH_ADMIN_URL's server (default
# postgres://postgres@127.0.0.1:5432/postgres), dropping any earlier one, and drops it at the end
# unless BENCH_KEEP=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
admin_url=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=mentor_status_bench_expiry
database_url="${admin_url%/*}/$database"

for tool in psql cargo jq /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

echo "== building the release binary"
cargo build --release --quiet -p mentor-status-cli --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/mentor-status"

work=$(mktemp -d)
cleanup() {
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export MENTOR_STATUS__DATABASE_URL="$database_url"

today=$(TZ=Europe/Oslo date +%F)
tomorrow=$(TZ=Europe/Oslo date -d tomorrow +%F)

echo "== seeding $database: 1,000,000 mentors in 100 organisations (business date $today)"
psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
"$bin" migrate >/dev/null
seed_start=$(date +%s%N)
psql "$database_url" -qX -v today="$today" -f "$root/bench/seed-expiry.sql" >/dev/null
echo "seeded in $(( ($(date +%s%N) - seed_start) / 1000000 )) ms"

# The effects each run must have: "<expired> <resumed> <reminders sent>".
expected_counts() {
  psql "$database_url" -qXAt -F' ' -v today="$today" <<'SQL'
SELECT count(*) FILTER (WHERE status = 'active' AND current_expires_on < :'today'::date),
       count(*) FILTER (WHERE status = 'paused' AND resume_on <= :'today'::date),
       count(*) FILTER (WHERE status IN ('active', 'paused')
                        AND current_expires_on BETWEEN :'today'::date AND :'today'::date + 30)
FROM mentors;
SELECT count(*) FILTER (WHERE status = 'active' AND current_expires_on = :'today'::date),
       count(*) FILTER (WHERE status = 'paused' AND resume_on = :'today'::date + 1),
       count(*) FILTER (WHERE current_expires_on - (:'today'::date + 1) IN (30, 14, 7))
FROM mentors;
SQL
}
mapfile -t expected < <(expected_counts)
expected+=("0 0 0")

# One timed process; prints "<seconds> <peak RSS in MB>" and keeps its JSON report.
timed_run() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$name.time" "$bin" --json expiry run "$@" >"$name.json"
  read -r seconds rss_kb <"$name.time"
  echo "$seconds $((rss_kb / 1024))"
}

total() {
  jq "[.runs[].counts.$2] | add" "$1.json"
}

report() {
  local name=$1 label=$2 target_s=$3 expect=$5 expired resumed sent verdict
  read -r seconds rss_mb < <(echo "${4}")
  expired=$(total "$name" expired)
  resumed=$(( $(total "$name" resumed) + $(total "$name" resumed_into_expired) ))
  sent=$(total "$name" reminders_sent)
  verdict=$(awk -v s="$seconds" -v t="$target_s" -v r="$rss_mb" 'BEGIN { print (s <= t && r <= 200) ? "met" : "MISSED" }')
  if [ "$expired $resumed $sent" != "$expect" ]; then
    verdict="MISSED (effects $expired $resumed $sent, expected $expect)"
  fi
  printf '%-28s %7.2f s %6d MB  expired %6d  resumed %6d  reminders sent %6d skipped %6d  notices %5d  digests %3d  target <= %s s: %s\n' \
    "$label" "$seconds" "$rss_mb" "$expired" "$resumed" "$sent" "$(total "$name" reminders_skipped)" \
    "$(total "$name" resume_notices)" "$(total "$name" digests)" "$target_s" "$verdict"
}

echo "== runs"
first=$(timed_run first --as-of "$today")
next=$(timed_run next --as-of "$tomorrow" --allow-future)
rerun=$(timed_run rerun --as-of "$tomorrow" --allow-future)

echo
echo "== summary: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), PostgreSQL $(psql "$admin_url" -qXAt -c 'SHOW server_version')"
report first "first run ($today)" 15 "$first" "${expected[0]}"
report next "next day ($tomorrow)" 2 "$next" "${expected[1]}"
report rerun "re-run of the next day" 1.5 "$rerun" "${expected[2]}"
