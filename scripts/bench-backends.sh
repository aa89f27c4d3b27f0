#!/usr/bin/env bash
# The SQLite backend beside PostgreSQL, on the same machine, against a release build:
# 100,000 mentors in one organisation, the same population on both backends (bench/seed-backends-
# sqlite.sql and bench/seed-backends-postgres.sql: certifications expiring evenly from a year ago to two
# years ahead, 20 % paused, half of those with a return date), then on each backend
#   1. the nightly expiry run as whole timed processes (`mentor-status expiry run`, elapsed and peak RSS
#      with /usr/bin/time): the first run (today), the next day's run, an immediate re-run of that day;
#   2. GET /api/v1/mentors/{id} over random mentors with wrk (64 connections, 2 threads, 20 s) against
#      `serve`, with a coordinator's token, as scripts/bench-api.sh does.
# Targets (SQLite, 2-core machine): first run <= 10 s, re-run <= 1 s, GET >= 5,000 req/s.
# PostgreSQL is measured the same way and judged by the same numbers, for comparison.
#
# SQLite lives in a temporary directory; PostgreSQL in the database mentor_status_bench_backends on
# BENCH_ADMIN_URL's server (default postgres://postgres@127.0.0.1:5432/postgres), dropped before and
# after. BENCH_KEEP=1 keeps both (the directory's path is printed). Seeding is not measured.
#
#   BENCH_BACKENDS  "sqlite postgres" (default), or one of them
#   BENCH_REPEAT    rounds of each part (default 1; 3 for the README's figures): the expiry runs on a
#                   fresh seed each round, wrk against a freshly started server on the last round's
#                   database; the backends take turns round by round; the summary shows the best
#                   round and the spread
#   BENCH_DURATION  wrk's duration per run (default 20s)
#   BENCH_POOL      `serve`'s database_max_connections (default 4, as scripts/bench-api.sh)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
admin_url=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=mentor_status_bench_backends
database_url="${admin_url%/*}/$database"
backends=${BENCH_BACKENDS:-sqlite postgres}
repeat=${BENCH_REPEAT:-1}
duration=${BENCH_DURATION:-20s}
pool=${BENCH_POOL:-4}
connections=64
threads=2
mentors=100000

for tool in cargo curl jq openssl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done
case " $backends " in *" postgres "*)
  command -v psql >/dev/null || { echo "bench: psql is required for the PostgreSQL part" >&2; exit 2; } ;;
esac
for backend in $backends; do
  case $backend in sqlite | postgres) ;; *) echo "bench: unknown backend $backend" >&2; exit 2 ;; esac
done
if ! command -v wrk >/dev/null; then
  echo "bench: wrk is not installed; installing it with apt-get install -y wrk" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y wrk >&2
  else
    sudo apt-get install -y wrk >&2
  fi
fi

echo "== building the release binary (and the SQLite seeding helper)"
cargo build --release --quiet -p mentor-status-cli --bin mentor-status --example bench_sqlite_exec \
  --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/mentor-status"
sqlite_exec="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_sqlite_exec"

work=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  server_pid=""
}
drop_database() {
  psql "$admin_url" -qX -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
}
cleanup() {
  stop_server
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $work (SQLite: $work/sqlite-db/bench.db, if measured) and the database" \
      "$database (if measured)" >&2
  else
    case " $backends " in *" postgres "*) drop_database || true ;; esac
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# Run from an empty directory so no mentor-status.toml around here changes the setup.
cd "$work"
MENTOR_STATUS__AUTH__JWT_SECRET=$(openssl rand -hex 32)
export MENTOR_STATUS__AUTH__JWT_SECRET

today=$(TZ=Europe/Oslo date +%F)
tomorrow=$(TZ=Europe/Oslo date -d tomorrow +%F)
# The seeds give mentor n the id 01938a00-0000-7000-8000-<n in 12 hex digits> on both backends.
awk -v n="$mentors" 'BEGIN { for (i = 0; i < n; i++) printf "01938a00-0000-7000-8000-%012x\n", i }' >ids.txt

# The server and the runs reach PostgreSQL through its Unix socket when there is one (cheaper than TCP
# loopback, as in scripts/bench-api.sh).
pg_url=$database_url
socket_dir=${BENCH_PG_SOCKET_DIR:-/var/run/postgresql}
if [ -S "$socket_dir/.s.PGSQL.5432" ]; then
  pg_url="postgres://postgres@localhost/$database?host=$socket_dir"
fi
sqlite_version=""

database_url_of() {
  case $1 in
    sqlite) echo "sqlite://$work/sqlite-db/bench.db" ;;
    postgres) echo "$pg_url" ;;
  esac
}

# A fresh database for $1 with the organisation `bench`, its coordinator and the 100,000 mentors.
prepare() {
  local backend=$1
  case $backend in
    sqlite)
      rm -rf "$work/sqlite-db"
      mkdir -p "$work/sqlite-db"
      ;;
    postgres)
      drop_database
      psql "$admin_url" -qX -c "CREATE DATABASE $database" >/dev/null
      ;;
  esac
  export MENTOR_STATUS__DATABASE_URL
  MENTOR_STATUS__DATABASE_URL=$(database_url_of "$backend")
  "$bin" migrate >/dev/null
  "$bin" orgs add --slug bench --name "Benchmark" >/dev/null
  "$bin" users add --org bench --email coordinator@bench.example.org --role coordinator >/dev/null
  local start
  start=$(date +%s%N)
  case $backend in
    sqlite)
      sqlite_version=$("$sqlite_exec" "$work/sqlite-db/bench.db" "$root/bench/seed-backends-sqlite.sql" \
        "today=$today")
      ;;
    postgres)
      psql "$database_url" -qX -v today="$today" -f "$root/bench/seed-backends-postgres.sql" >/dev/null
      ;;
  esac
  echo "   seeded $mentors mentors in $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

# One timed process, keeping its JSON report and "<seconds> <peak RSS in KB>".
timed_run() {
  local out=$1
  shift
  /usr/bin/time -f "%e %M" -o "$out.time" "$bin" --json expiry run "$@" >"$out.json"
}

# The counts of a report as one line, the same for both backends when they did the same work.
counts() {
  jq -r '[.runs[].counts] | {
      expired: (map(.expired) | add),
      resumed: (map(.resumed + .resumed_into_expired) | add),
      reminders_sent: (map(.reminders_sent) | add),
      reminders_skipped: (map(.reminders_skipped) | add),
      resume_notices: (map(.resume_notices) | add),
      digests: (map(.digests) | add)
    } | "expired \(.expired), resumed \(.resumed), reminders sent \(.reminders_sent) / skipped \(.reminders_skipped), resume notices \(.resume_notices), digests \(.digests)"' "$1"
}

# Round $2 of the nightly runs on $1: a fresh seed, then the three timed processes.
expiry_round() {
  local backend=$1 r=$2 run seconds rss_kb
  echo "== $backend, round $r of $repeat: seeding"
  prepare "$backend"
  mkdir -p "$work/$backend/$r"
  timed_run "$work/$backend/$r/first" --as-of "$today"
  timed_run "$work/$backend/$r/next" --as-of "$tomorrow" --allow-future
  timed_run "$work/$backend/$r/rerun" --as-of "$tomorrow" --allow-future
  for run in first next rerun; do
    read -r seconds rss_kb <"$work/$backend/$r/$run.time"
    printf '   %-6s %6.2f s %4d MB  %s\n' "$run" "$seconds" $((rss_kb / 1024)) \
      "$(counts "$work/$backend/$r/$run.json")"
  done
}

free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "bench: found no free port" >&2
  exit 1
}

# Round $2 of the API load on $1: `serve` on the database its last expiry round left, wrk, stop.
api_round() {
  local backend=$1 r=$2 port url token
  port=$(free_port)
  url="http://127.0.0.1:$port"
  export MENTOR_STATUS__DATABASE_URL
  MENTOR_STATUS__DATABASE_URL=$(database_url_of "$backend")
  echo "== $backend, round $r of $repeat: serve on $url (database pool $pool, scheduler off)," \
    "GET /api/v1/mentors/{id} with $connections connections, $threads threads, $duration"
  MENTOR_STATUS__HTTP__BIND="127.0.0.1:$port" MENTOR_STATUS__DATABASE_MAX_CONNECTIONS="$pool" \
    MENTOR_STATUS__SCHEDULER__ENABLED=false "$bin" serve >"$work/$backend/serve-$r.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "bench: the server exited:" >&2; cat "$work/$backend/serve-$r.log" >&2; exit 1; }
    sleep 0.2
  done
  token=$("$bin" users token --email coordinator@bench.example.org --ttl 2h)
  curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/mentors/$(sed -n 12345p ids.txt)" >/dev/null || {
    echo "bench: GET of a seeded mentor failed:" >&2; cat "$work/$backend/serve-$r.log" >&2; exit 1; }
  BENCH_TOKEN=$token BENCH_LUA_DIR="$root/bench" wrk -t"$threads" -c"$connections" -d"$duration" --latency \
    -s "$root/bench/get-mentor.lua" "$url" -- "$work/ids.txt" >"$work/$backend/get-$r.txt"
  stop_server
  printf '   %s req/s, p50 %s ms, p99 %s ms, %s non-2xx\n' "$(requests_per_second "$work/$backend/get-$r.txt")" \
    "$(percentile_ms 50 "$work/$backend/get-$r.txt")" "$(percentile_ms 99 "$work/$backend/get-$r.txt")" \
    "$(non2xx "$work/$backend/get-$r.txt")"
}

# shellcheck source=lib/wrk.sh
source "$root/scripts/lib/wrk.sh"

# The backends take turns round by round, so a slower spell of the machine (a virtual machine shares
# its host) falls on both rather than on one.
for r in $(seq 1 "$repeat"); do
  for backend in $backends; do expiry_round "$backend" "$r"; done
done
for r in $(seq 1 "$repeat"); do
  for backend in $backends; do api_round "$backend" "$r"; done
done

# The elapsed seconds of one run over the rounds: "<best> <worst>".
elapsed_stats() {
  local backend=$1 run=$2 r
  for r in $(seq 1 "$repeat"); do cut -d' ' -f1 "$work/$backend/$r/$run.time"; done |
    sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%s %s\n", min, max }'
}
peak_rss_mb() {
  local r
  for r in $(seq 1 "$repeat"); do cut -d' ' -f2 "$work/$1/$r/$2.time"; done |
    sort -g | tail -1 | awk '{ printf "%d", $1 / 1024 }'
}
# The wrk round with the most req/s.
best_get_round() {
  local r
  for r in $(seq 1 "$repeat"); do echo "$(requests_per_second "$work/$1/get-$r.txt") $r"; done |
    sort -g | tail -1 | cut -d' ' -f2
}
# The lowest and highest req/s over the rounds.
get_spread() {
  local r
  for r in $(seq 1 "$repeat"); do echo "$(requests_per_second "$work/$1/get-$r.txt")"; done |
    sort -g | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%s-%s", min, max }'
}

cell_time() {
  local backend=$1 run=$2 target=${3:-} best worst text
  read -r best worst < <(elapsed_stats "$backend" "$run")
  text=$(printf '%.2f s' "$best")
  if [ "$repeat" -gt 1 ]; then text="$text ($(printf '%.2f-%.2f' "$best" "$worst"))"; fi
  if [ -n "$target" ]; then text="$text $(verdict "$best <= $target")"; fi
  echo "$text"
}
cell_get() {
  local backend=$1 round text rps
  round=$(best_get_round "$backend")
  rps=$(requests_per_second "$work/$backend/get-$round.txt")
  text="$rps req/s"
  if [ "$repeat" -gt 1 ]; then text="$text ($(get_spread "$backend"))"; fi
  # Every round counts: one with a non-2xx answer was a broken run.
  local r errors=0
  for r in $(seq 1 "$repeat"); do errors=$((errors + $(non2xx "$work/$backend/get-$r.txt"))); done
  if [ "$errors" -gt 0 ]; then echo "$text MISSED ($errors non-2xx)"; else echo "$text $(verdict "$rps >= 5000")"; fi
}
cell_latency() {
  local round
  round=$(best_get_round "$1")
  echo "$(percentile_ms 50 "$work/$1/get-$round.txt") / $(percentile_ms 99 "$work/$1/get-$round.txt") ms," \
    "$(non2xx "$work/$1/get-$round.txt") non-2xx"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
memory=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
versions="mentor-status $(git -C "$root" describe --always --dirty 2>/dev/null || echo '(no git)')"
if [ -n "$sqlite_version" ]; then versions="$versions, $sqlite_version (embedded)"; fi
case " $backends " in *" postgres "*)
  versions="$versions, PostgreSQL $(psql "$admin_url" -qXAt -c 'SHOW server_version')" ;;
esac
echo
echo "== summary: $(nproc) cores ($cpu), $memory; $versions"
echo "   $mentors mentors in 1 organisation; runs as of $today, then $tomorrow twice; wrk $connections"
echo "   connections, $threads threads, $duration, on the same machine; serve pool $pool;" \
  "best of $repeat round(s)$([ "$repeat" -gt 1 ] && echo ', (spread)')"
row() { printf '%-30s %-16s' "$1" "$2"; shift 2; for cell in "$@"; do printf ' | %-34s' "$cell"; done; echo; }
header=()
for backend in $backends; do header+=("$backend"); done
row "measure" "target" "${header[@]}"
cells() { local fn=$1; shift; for backend in $backends; do "$fn" "$backend" "$@"; done; }
mapfile -t c < <(cells cell_time first 10); row "first run ($today)" "<= 10 s" "${c[@]}"
mapfile -t c < <(cells cell_time next); row "next day ($tomorrow)" "-" "${c[@]}"
mapfile -t c < <(cells cell_time rerun 1); row "re-run of the next day" "<= 1 s" "${c[@]}"
mapfile -t c < <(for backend in $backends; do echo "$(peak_rss_mb "$backend" first) MB"; done)
row "peak RSS of the first run" "-" "${c[@]}"
mapfile -t c < <(cells cell_get); row "GET /api/v1/mentors/{id}" ">= 5000 req/s" "${c[@]}"
mapfile -t c < <(cells cell_latency); row "  its p50 / p99" "-" "${c[@]}"
echo
for run in first next rerun; do
  for backend in $backends; do
    printf '%-6s %-9s %s\n' "$run" "$backend" "$(counts "$work/$backend/1/$run.json")"
  done
done
# Every round on every backend did the same work, or the comparison means nothing.
for run in first next rerun; do
  expected=""
  for backend in $backends; do
    for r in $(seq 1 "$repeat"); do
      found=$(counts "$work/$backend/$r/$run.json")
      expected=${expected:-$found}
      if [ "$found" != "$expected" ]; then
        echo "bench: the $run run did other work on $backend in round $r: $found" >&2
        exit 1
      fi
    done
  done
done
echo "the counts are the same on every backend measured and in every round"
