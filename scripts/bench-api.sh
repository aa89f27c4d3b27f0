#!/usr/bin/env bash
# Load test of the JSON API against a release build, with wrk:
#   1. GET /api/v1/mentors/{id} over random ids of 10,000 mentors
#   2. the pause/resume cycle (POST …/pause, POST …/resume)
# 64 connections, 2 threads, 30 s each. Targets (on a 2-core machine):
#   GET >= 5,000 req/s with p99 <= 20 ms; pause/resume p99 <= 30 ms.
#
# It creates the database mentor_status_bench on the PostgreSQL server of BENCH_ADMIN_URL
# (default postgres://postgres@127.0.0.1:5432/postgres), dropping any earlier one, and drops it
# again at the end. BENCH_DURATION (default 30s) shortens a trial run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
admin_url=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=mentor_status_bench
database_url="${admin_url%/*}/$database"
duration=${BENCH_DURATION:-30s}
mentors=10000
connections=64
threads=2

for tool in psql curl cargo openssl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
  echo "bench: wrk is not installed; installing it with apt-get install -y wrk" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y wrk >&2
  else
    sudo apt-get install -y wrk >&2
  fi
fi

echo "== building the release binary"
cargo build --release --quiet -p mentor-status-cli --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/mentor-status"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Run from an empty directory so no mentor-status.toml around here changes the setup.
cd "$work"
export MENTOR_STATUS__DATABASE_URL="$database_url"
MENTOR_STATUS__AUTH__JWT_SECRET=$(openssl rand -hex 32)
export MENTOR_STATUS__AUTH__JWT_SECRET

echo "== preparing $database with $mentors mentors"
psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
"$bin" migrate
"$bin" orgs add --slug bench --name "Benchmark" >/dev/null
"$bin" users add --org bench --email coordinator@bench.example.org --role coordinator >/dev/null
BENCH_TOKEN=$("$bin" users token --email coordinator@bench.example.org --ttl 2h)
export BENCH_TOKEN

issued_on=$(date -u +%Y-%m-%d)
expires_on=$(date -u -d "+2 years" +%Y-%m-%d)
{
  echo "full_name,email,phone,certification_issued_on,certification_expires_on"
  for i in $(seq 1 "$mentors"); do
    printf 'Bench Mentor %05d,mentor%05d@bench.example.org,+47 400 %05d,%s,%s\n' \
      "$i" "$i" "$i" "$issued_on" "$expires_on"
  done
} >mentors.csv
start=$(date +%s.%N)
"$bin" import mentors mentors.csv --org bench
echo "import took $(awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN { printf "%.1f", end - start }') s"
psql "$database_url" -qXAt -c "SELECT id FROM mentors ORDER BY id" >ids.txt
echo "$(wc -l <ids.txt) mentor ids in ids.txt"

# A port nobody listens on (connecting is refused).
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    port=$candidate
    break
  fi
done
[ -n "$port" ] || { echo "bench: found no free port" >&2; exit 1; }

# The server reaches PostgreSQL through its Unix socket when there is one (cheaper than TCP loopback
# on this kind of machine) with a pool of BENCH_POOL connections (default 4: what measured best on
# 2 cores with wrk on the same machine). The scheduler is off so only the measured requests run.
server_database_url=$database_url
socket_dir=${BENCH_PG_SOCKET_DIR:-/var/run/postgresql}
if [ -S "$socket_dir/.s.PGSQL.5432" ]; then
  server_database_url="postgres://postgres@localhost/$database?host=$socket_dir"
fi
echo "== starting the server on 127.0.0.1:$port (database pool ${BENCH_POOL:-4}, $server_database_url)"
MENTOR_STATUS__HTTP__BIND="127.0.0.1:$port" MENTOR_STATUS__DATABASE_URL="$server_database_url" \
  MENTOR_STATUS__DATABASE_MAX_CONNECTIONS="${BENCH_POOL:-4}" MENTOR_STATUS__SCHEDULER__ENABLED=false \
  "$bin" serve >serve.log 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  curl -fsS "$url/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bench: the server exited:" >&2; cat serve.log >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$url/healthz" >/dev/null || { echo "bench: the server did not come up:" >&2; cat serve.log >&2; exit 1; }

export BENCH_LUA_DIR="$root/bench"

echo "== GET /api/v1/mentors/{id}: $connections connections, $threads threads, $duration"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/get-mentor.lua" "$url" -- \
  "$work/ids.txt" | tee get.txt

echo "== pause/resume cycle: $connections connections, $threads threads, $duration"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/pause-resume.lua" "$url" -- \
  "$work/ids.txt" "$threads" | tee pause-resume.txt

# shellcheck source=lib/wrk.sh
source "$root/scripts/lib/wrk.sh"

get_rps=$(requests_per_second get.txt)
get_p50=$(percentile_ms 50 get.txt)
get_p99=$(percentile_ms 99 get.txt)
cycle_rps=$(requests_per_second pause-resume.txt)
cycle_p50=$(percentile_ms 50 pause-resume.txt)
cycle_p99=$(percentile_ms 99 pause-resume.txt)

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
postgres_version=$(psql "$admin_url" -qXAt -c "SHOW server_version")
echo
echo "== summary: $(nproc) cores ($cpu), PostgreSQL $postgres_version, $mentors mentors,"
echo "   $connections connections, $threads wrk threads, $duration per run, wrk on the same machine"
printf '%-26s %10s %10s %10s %8s  %s\n' "run" "req/s" "p50 ms" "p99 ms" "non-2xx" "target"
printf '%-26s %10s %10s %10s %8s  %s\n' "GET /api/v1/mentors/{id}" "$get_rps" "$get_p50" "$get_p99" \
  "$(non2xx get.txt)" \
  ">= 5000 req/s, p99 <= 20 ms, no non-2xx: $(wrk_verdict "$get_rps >= 5000 && $get_p99 <= 20" get.txt)"
printf '%-26s %10s %10s %10s %8s  %s\n' "pause/resume cycle" "$cycle_rps" "$cycle_p50" "$cycle_p99" \
  "$(non2xx pause-resume.txt)" "p99 <= 30 ms, no non-2xx: $(wrk_verdict "$cycle_p99 <= 30" pause-resume.txt)"
