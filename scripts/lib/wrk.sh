# Reading wrk's output, for the benchmark scripts (source it). The wrk Lua scripts in bench/ print
# "non-2xx responses: N of M" (bench/common.lua); a run with any non-2xx answer is a broken run, so
# every verdict below requires zero.

# wrk prints latencies with a unit (850.00us, 1.23ms, 1.05s); this gives them in ms.
percentile_ms() {
  awk -v p="$1%" '$1 == p {
    value = $2
    if (value ~ /us$/) { sub(/us$/, "", value); value /= 1000 }
    else if (value ~ /ms$/) { sub(/ms$/, "", value) }
    else if (value ~ /s$/) { sub(/s$/, "", value); value *= 1000 }
    printf "%.2f", value
  }' "$2"
}
requests_per_second() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
# The count of non-2xx answers; fails when the output has no such line (a run without our Lua script).
non2xx() {
  local count
  count=$(awk '/^non-2xx responses:/ { print $3 }' "$1")
  [ -n "$count" ] || { echo "bench: $1 has no non-2xx count (wrk ran without bench/common.lua)" >&2; exit 1; }
  echo "$count"
}
# "met" when the awk condition $1 holds, else "MISSED".
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "MISSED"; fi; }
# As verdict, and also MISSED when the wrk output $2 counted any non-2xx answer.
wrk_verdict() {
  local errors
  errors=$(non2xx "$2")
  if [ "$errors" -gt 0 ]; then echo "MISSED ($errors non-2xx)"; else verdict "$1"; fi
}
