#!/usr/bin/env bash
# App CPU per request, and optionally system calls per request, of one app
# and route of the load benchmark, for comparisons run back to back: starts
# its own Redis and the app (on core APP_CPU=0; wrk on LOAD_CPU=1), seeds one
# session per connection with /incr, then prints RUNS lines of
# `APP ROUTE rps=… cpu_us_per_req=… requests=…`, each from a 4 s wrk run and
# the utime + stime delta of /proc/PID/stat. With STRACE=1, one more run under
# `strace -c -f` prints the app's system calls per request (strace slows the
# app, so its run is not one of the CPU runs). On a machine whose speed
# drifts, interleave the variants being compared (issue 20's section of
# BENCHMARKS.md) and compare pairs, not single runs.
#
#   bash bench/cpu.sh ours_poem read        # CONN=32 RUNS=3 STRACE=0 PERF=0
#
# APP_CPU and LOAD_CPU (default 0 and 1) are taskset's core lists: 0,1 for
# both leaves the app, wrk and Redis unpinned. RAW_REDIS_WORK reaches the app
# (src/bin/raw_poem.rs). Needs the apps built in $CARGO_TARGET_DIR (default
# bench/target), wrk, redis-server and, for STRACE=1, strace; for PERF=1,
# perf with the raw_syscalls tracepoint.
set -euo pipefail
APP=${1:?app}
ROUTE=${2:?route}
CONN=${CONN:-32}
RUNS=${RUNS:-3}
REDIS_PORT=${REDIS_PORT:-6393}
APP_PORT=${APP_PORT:-8393}
BENCH=$(cd "$(dirname "$0")" && pwd)
BIN=${CARGO_TARGET_DIR:-$BENCH/target}/release
WORK=$(mktemp -d /tmp/session-cpu.XXXXXX)
REDIS_PID= APP_PID=
cleanup() {
  [[ -n $APP_PID ]] && { kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; }
  [[ -n $REDIS_PID ]] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
(cd "$WORK" && exec taskset -c "${APP_CPU:-0}" env -u RUST_LOG -u SESSION_CONFIG PORT="$APP_PORT" \
  SESSION_TYPE=redis SESSION_REDIS="redis://127.0.0.1:$REDIS_PORT" "$BIN/$APP" >"$WORK/app.log" 2>&1) &
APP_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$APP_PORT/plain" >/dev/null 2>&1 && break; sleep 0.1; done
cookie=session
[[ $APP == poem_builtin ]] && cookie=poem-session

wrk_run() { # MODE ROUTE SECONDS -> the BENCH json line
  env BENCH_MODE="$1" BENCH_COOKIES="$WORK/cookies" BENCH_COOKIE_NAME="$cookie" \
    BENCH_SESSIONS="$CONN" taskset -c "${LOAD_CPU:-1}" wrk -t1 -c"$CONN" -d"$3"s --timeout 5s \
    -s "$BENCH/wrk/session.lua" "http://127.0.0.1:$APP_PORT/$2" | sed -n 's/^BENCH //p'
}
requests() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["requests"])'; }
ticks() { awk '{print $14 + $15}' "/proc/$APP_PID/stat"; }

wrk_run seed incr 2 >/dev/null
wrk_run use "$ROUTE" 1 >/dev/null
hz=$(getconf CLK_TCK)
for ((run = 1; run <= RUNS; run++)); do
  if [[ ${PERF:-0} == 1 ]]; then
    perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "$APP_PID" -o "$WORK/perf" &
    perf_pid=$!
    sleep 0.2
  fi
  before=$(ticks)
  n=$(wrk_run use "$ROUTE" 4 | requests)
  after=$(ticks)
  counts=
  if [[ ${PERF:-0} == 1 ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    # perf's CSV: value,unit,event,...; per request, rounded.
    counts=$(awk -F, -v n="$n" '$3 == "context-switches" { printf " ctx_per_req=%.3f", $1 / n }
      $3 == "raw_syscalls:sys_enter" { printf " syscalls_per_req=%.2f", $1 / n }' "$WORK/perf")
  fi
  echo "$APP $ROUTE rps=$((n / 4)) cpu_us_per_req=$(python3 -c "print(round(($after - $before) * 1e6 / $hz / $n, 1))") requests=$n$counts"
done
if [[ ${STRACE:-0} == 1 ]]; then
  strace -c -f -p "$APP_PID" -o "$WORK/strace" 2>/dev/null &
  strace_pid=$!
  sleep 1
  n=$(wrk_run use "$ROUTE" 3 | requests)
  sleep 0.5
  kill -INT "$strace_pid" 2>/dev/null || true
  wait "$strace_pid" 2>/dev/null || true
  echo "system calls per request under strace ($n requests):"
  awk -v n="$n" 'NR > 2 && $NF != "total" && $4 + 0 > 0 { printf "  %-14s %6.2f\n", $NF, $4 / n }' \
    "$WORK/strace" | sort -k2 -nr | head -8
fi
