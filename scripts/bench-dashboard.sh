#!/usr/bin/env bash
# Load test of the dashboard's mentors page against a release build, with wrk: an organisation of
# 2,000 mentors, a coordinator logged in with a password (a session cookie), and GET /mentors (the
# first page: 50 mentors with their certification, days left and sync state) with 16 connections and
# 2 threads for 30 s (bench/dashboard-mentors.lua, which counts non-2xx answers: a session that
# stopped working answers 303). Target: server time p99 <= 50 ms with no non-2xx answer.
#
# BENCH_BACKEND=postgres (default) creates the database mentor_status_bench_dashboard on the server of
# BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropping any earlier one, and
# drops it again at the end; BENCH_BACKEND=sqlite uses a database file in a temporary directory.
# BENCH_DURATION (default 30s) shortens a trial run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
backend=${BENCH_BACKEND:-postgres}
admin_url=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=mentor_status_bench_dashboard
duration=${BENCH_DURATION:-30s}
mentors=2000
connections=16
threads=2
password='a long benchmark password'

for tool in curl cargo openssl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done
[ "$backend" = sqlite ] || command -v psql >/dev/null || { echo "bench: psql is required" >&2; exit 2; }
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
  if [ "$backend" != sqlite ]; then
    psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Run from an empty directory so no mentor-status.toml around here changes the setup.
cd "$work"
case "$backend" in
  sqlite)
    database_url="sqlite://$work/bench.db"
    server_database_url=$database_url
    ;;
  postgres)
    database_url="${admin_url%/*}/$database"
    psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database" >/dev/null
    # The server reaches PostgreSQL through its Unix socket when there is one (cheaper than TCP).
    server_database_url=$database_url
    socket_dir=${BENCH_PG_SOCKET_DIR:-/var/run/postgresql}
    if [ -S "$socket_dir/.s.PGSQL.5432" ]; then
      server_database_url="postgres://postgres@localhost/$database?host=$socket_dir"
    fi
    ;;
  *) echo "bench: BENCH_BACKEND must be postgres or sqlite" >&2; exit 2 ;;
esac
export MENTOR_STATUS__DATABASE_URL="$database_url"
MENTOR_STATUS__AUTH__JWT_SECRET=$(openssl rand -hex 32)
export MENTOR_STATUS__AUTH__JWT_SECRET

echo "== preparing the $backend database with $mentors mentors"
"$bin" migrate
"$bin" orgs add --slug bench --name "Benchmark" >/dev/null
printf '%s' "$password" |
  "$bin" users add --org bench --email coordinator@bench.example.org --role coordinator --password-stdin >/dev/null
{
  echo "full_name,email,phone,certification_issued_on,certification_expires_on"
  for i in $(seq 1 "$mentors"); do
    # Certifications end over the next two years, so the page shows a spread of days left.
    expires_on=$(date -u -d "+$((i % 730)) days" +%Y-%m-%d)
    issued_on=$(date -u -d "$expires_on -2 years" +%Y-%m-%d)
    printf 'Bench Mentor %05d,mentor%05d@bench.example.org,+47 400 %05d,%s,%s\n' \
      "$i" "$i" "$i" "$issued_on" "$expires_on"
  done
} >mentors.csv
"$bin" import mentors mentors.csv --org bench

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

echo "== logging in as the coordinator"
login_page=$(curl -fsS -c cookies.txt "$url/login")
csrf=$(printf '%s' "$login_page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -fsS -o /dev/null -b cookies.txt -c cookies.txt \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=coordinator@bench.example.org" \
  --data-urlencode "password=$password" --data-urlencode "next=/mentors" "$url/login"
session=$(awk '$6 == "ms_session" { print $7 }' cookies.txt)
[ -n "$session" ] || { echo "bench: the login did not give a session cookie" >&2; exit 1; }
status=$(curl -s -o page.html -w '%{http_code}' -H "Cookie: ms_session=$session" "$url/mentors")
[ "$status" = 200 ] || { echo "bench: GET /mentors answered $status" >&2; exit 1; }
echo "GET /mentors: $(grep -c '<th scope="row">' page.html) mentors on the page, $(wc -c <page.html) bytes"

echo "== GET /mentors: $connections connections, $threads threads, $duration"
BENCH_SESSION=$session BENCH_LUA_DIR="$root/bench" wrk -t"$threads" -c"$connections" -d"$duration" \
  --latency -s "$root/bench/dashboard-mentors.lua" "$url" | tee mentors.txt

# shellcheck source=lib/wrk.sh
source "$root/scripts/lib/wrk.sh"

rps=$(requests_per_second mentors.txt)
p50=$(percentile_ms 50 mentors.txt)
p99=$(percentile_ms 99 mentors.txt)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "== summary: $(nproc) cores ($cpu), $backend, $mentors mentors, $connections connections,"
echo "   $threads wrk threads, $duration, wrk on the same machine"
printf '%-18s %10s %10s %10s %8s  %s\n' "run" "req/s" "p50 ms" "p99 ms" "non-2xx" "target"
printf '%-18s %10s %10s %10s %8s  %s\n' "GET /mentors" "$rps" "$p50" "$p99" \
  "$(non2xx mentors.txt)" "p99 <= 50 ms, no non-2xx: $(wrk_verdict "$p99 <= 50" mentors.txt)"
