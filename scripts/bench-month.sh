#!/usr/bin/env bash
# A simulated month on several instances, against a release build: BENCH_INSTANCES (3)
# `mentor-status serve` processes on ONE PostgreSQL database — scheduler (tick 1 s), listing sync relays
# and email sender running in every one — walk BENCH_NIGHTS (31) business dates of one organisation of
# BENCH_MENTORS (100,000) mentors, every one linked to a contact of the Dataverse simulator, with the
# rehearsal clock (`[clock] file`): the driver moves the clock file to 05:30 of the next date and waits
# until the night's work is done (both scheduled runs, `expiry` and `listing_sync`, succeeded; no email
# and no sync outbox row pending).
#
# The driver is crates/cli/examples/bench_month.rs: it runs the Dataverse simulator and smtp-sink in its
# own process, seeds the database with bench/seed-month-postgres.sql (through psql), and reports the wall
# time per night (min/median/max), emails and portal writes per second over the busy time, and the
# duplicates and losses of emails and of portal writes (both must be 0; it exits 1 otherwise).
#
# The database is mentor_status_bench_month on BENCH_ADMIN_URL's server (default
# postgres://postgres@127.0.0.1:5432/postgres; the instances reach it through its Unix socket when there
# is one), dropped before and after. Seeding is not measured.
#
#   BENCH_MENTORS        mentors, each linked to a simulator contact (default 100000)
#   BENCH_NIGHTS         business dates walked (default 31)
#   BENCH_INSTANCES      `serve` processes (default 3)
#   BENCH_START          the first business date, YYYY-MM-DD (default today in Europe/Oslo)
#   BENCH_POOL           each instance's database_max_connections (default 4, as scripts/bench-api.sh)
#   BENCH_NIGHT_TIMEOUT  seconds one night may take before the run fails (default 1200)
#   BENCH_LOG_LEVEL      the instances' log.level (default warn)
#   BENCH_KEEP=1         keep the database and the working directory (instances' logs, configuration)
#
# A short trial: BENCH_MENTORS=2000 BENCH_NIGHTS=5 scripts/bench-month.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_ADMIN_URL=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

for tool in cargo psql getconf; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done
psql "$BENCH_ADMIN_URL" -qXAt -c 'SELECT 1' >/dev/null || {
  echo "bench: cannot reach PostgreSQL at $BENCH_ADMIN_URL" >&2; exit 2; }

echo "== building the release binary and the driver"
cargo build --release --quiet -p mentor-status-cli --bin mentor-status --example bench_month \
  --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
export BENCH_BIN="$target/release/mentor-status"
export BENCH_SEED="$root/bench/seed-month-postgres.sql"

# Run from an empty directory so no mentor-status.toml around here changes the setup (the driver
# passes its own configuration to every instance with --config, and works in a directory of its own).
cd "$(mktemp -d)"
trap 'rmdir "$PWD" 2>/dev/null || true' EXIT
"$target/release/examples/bench_month"
