#!/usr/bin/env bash
# The load benchmark (issues 9 and 20): the demo routes /plain, /incr and /read
# over Redis, for ours on Poem and on Rocket, poem's built-in ServerSession,
# axum with tower-sessions and its Redis store, the raw limit (GET / GET + SET
# EX by hand) and bare apps in all three frameworks, measured
# one after another with wrk on loopback, in ROUNDS rounds that rotate the
# apps' order. Writes bench/results/load.jsonl, bench/load-chart.svg and the
# load section of BENCHMARKS.md.
#
#   bash bench/load.sh
#
# Knobs (environment): ROUNDS=5 DURATION=5 WARMUP=1 CONNECTIONS=32
# APP_CPU=0 LOAD_CPU=1 (the app on one core; wrk and Redis on the other)
# REDIS_PORT=6390 APP_PORT=8390 BUILD=1 (0 skips cargo build)
# CARGO_TARGET_DIR (default bench/target: where the apps are built and run from)
# MEASURE=1 (0 skips the rounds and reports results/load.jsonl as it is)
# INSTRUCTIONS=1 (0 skips the callgrind pass: instructions per request of each
# app and route, whole process over Redis, with bench/profile.sh; they do not
# drift with the machine's load as req/s does).
# APPS_ONLY="ours-poem raw-poem ..." measures only those apps, into
# results/load-only.jsonl, and prints their medians and ratios instead of
# rewriting BENCHMARKS.md (no callgrind pass). raw-poem-merge, the raw Poem
# app sending Redis what ours sends by default (GETEX on /read, the
# conditional-save script on /incr; see src/bin/raw_poem.rs), and
# raw-poem-contract and raw-rocket-contract (merge's work plus the
# responses' Vary: Cookie and, on /read, the refreshed Set-Cookie) run only
# when named there.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
APP_CPU=${APP_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
REDIS_PORT=${REDIS_PORT:-6390}
APP_PORT=${APP_PORT:-8390}
BUILD=${BUILD:-1}
INSTRUCTIONS=${INSTRUCTIONS:-1}
MEASURE=${MEASURE:-1}

BENCH=$(cd "$(dirname "$0")" && pwd)
MAIN=$(dirname "$BENCH")
TARGET=${CARGO_TARGET_DIR:-$BENCH/target}
BIN=$TARGET/release
RESULTS=$BENCH/results
LUA=$BENCH/wrk/session.lua
WORK=$(mktemp -d /tmp/session-load.XXXXXX)
mkdir -p "$RESULTS"

log() { printf '[load %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
for tool in redis-server redis-cli taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done

if [[ $BUILD == 1 ]]; then
  log "building the apps (release, $TARGET)"
  (cd "$BENCH" && CARGO_TARGET_DIR=$TARGET cargo build --release --bins -q)
fi

# ---------------------------------------------------------------- processes
REDIS_PID=
APP_PID=
cleanup() {
  if [[ -n $APP_PID ]]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if [[ -n $REDIS_PID ]]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$REDIS_PORT" || { echo "error: port $REDIS_PORT is taken" >&2; exit 1; }
port_free "$APP_PORT" || { echo "error: port $APP_PORT is taken" >&2; exit 1; }

# The benchmark's own Redis: nothing on disk, so INFO commandstats counts only
# the app under test.
taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
for _ in $(seq 50); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done
rcli ping >/dev/null

# ---------------------------------------------------------------- apps
# name | binary | session cookie name | routes measured
APPS=(
  "bare-poem|bare_poem|session|plain"
  "ours-poem|ours_poem|session|plain incr read"
  "bare-rocket|bare_rocket|session|plain"
  "raw-poem|raw_poem|session|incr read"
  "ours-rocket|ours_rocket|session|plain incr read"
  "poem-builtin|poem_builtin|poem-session|plain incr read"
  "raw-rocket|raw_rocket|session|incr read"
  "bare-axum|bare_axum|session|plain"
  "tower-sessions|tower_sessions|session|plain incr read"
  "raw-axum|raw_axum|session|incr read"
  "bare-poem-2|bare_poem|session|plain"
)
# bare-poem-2 is bare Poem again under another name: the A/A band.
if [[ -n ${APPS_ONLY:-} ]]; then
  APPS+=("raw-poem-merge|raw_poem|session|incr read" "raw-poem-contract|raw_poem|session|incr read"
    "raw-rocket-contract|raw_rocket|session|incr read")
  chosen=()
  for entry in "${APPS[@]}"; do
    [[ " $APPS_ONLY " == *" ${entry%%|*} "* ]] && chosen+=("$entry")
  done
  [[ ${#chosen[@]} -gt 0 ]] || { echo "error: APPS_ONLY names no app" >&2; exit 1; }
  APPS=("${chosen[@]}")
  INSTRUCTIONS=0
fi

start_app() { # binary
  (cd "$WORK" && exec taskset -c "$APP_CPU" env -u RUST_LOG -u SESSION_CONFIG \
    PORT="$APP_PORT" RAW_REDIS_WORK="$raw_work" SESSION_TYPE=redis SESSION_REDIS="redis://127.0.0.1:$REDIS_PORT" \
    "$BIN/$1" >"$WORK/app.log" 2>&1) &
  APP_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$APP_PORT/plain" >/dev/null 2>&1 && return 0
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: $1 did not start:" >&2; cat "$WORK/app.log" >&2; exit 1
}

stop_app() {
  kill "$APP_PID" 2>/dev/null || true
  wait "$APP_PID" 2>/dev/null || true
  APP_PID=
  for _ in $(seq 50); do port_free "$APP_PORT" && return 0; sleep 0.1; done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk MODE ROUTE SECONDS COOKIE_NAME -> the BENCH json line
run_wrk() {
  env BENCH_MODE="$1" BENCH_COOKIES="$WORK/cookies" BENCH_COOKIE_NAME="$4" \
    BENCH_SESSIONS="$CONNECTIONS" \
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$3"s --timeout 5s -s "$LUA" \
    "http://127.0.0.1:$APP_PORT/$2" | sed -n 's/^BENCH //p'
}

commandstats() { # -> {"getex":123,...} without our own INFO/CONFIG
  rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\).*/\1 \2/p' |
    awk 'BEGIN { printf "{"; n = 0 }
         $1 !~ /^(info|config)/ { printf "%s\"%s\":%s", (n++ ? "," : ""), $1, $2 }
         END { printf "}" }'
}

OUT=$RESULTS/load.jsonl
[[ -n ${APPS_ONLY:-} ]] && OUT=$RESULTS/load-only.jsonl
TICK_US=$((1000000 / $(getconf CLK_TCK)))
HZ=$(getconf CLK_TCK)

if [[ $MEASURE == 1 ]]; then
: >"$OUT"
# ---------------------------------------------------------------- machine notes
{
  printf '{"date":"%s",' "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '"cpu":"%s",' "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  printf '"cores":%s,' "$(nproc)"
  printf '"kernel":"%s",' "$(uname -r)"
  printf '"rustc":"%s",' "$(rustc --version)"
  printf '"wrk":"%s",' "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  printf '"redis":"%s",' "$(redis-server --version | awk '{print $3}' | sed 's/v=//')"
  printf '"loadavg":"%s",' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '"rounds":%s,"duration":%s,"warmup":%s,"connections":%s,"app_cpu":"%s","load_cpu":"%s",' \
    "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$APP_CPU" "$LOAD_CPU"
  # Other tenants' CPU over one second (top's second sample), this script aside.
  printf '"busy":"%s"}\n' "$(top -b -n 2 -d 1 -w 200 | awk '/^top -/ { s++ } s == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 10 && $12 != "top" { printf "%s%s %s%%", (n++ ? ", " : ""), $12, $9 }')"
} >"${OUT%.jsonl}-machine.json"

# ---------------------------------------------------------------- rounds
napps=${#APPS[@]}
started=$(date +%s)
for ((round = 1; round <= ROUNDS; round++)); do
  for ((i = 0; i < napps; i++)); do
    # Rotate the order each round, so no app always runs first or last.
    IFS='|' read -r app binary cookie routes <<<"${APPS[$(((i + (round - 1) * 3) % napps))]}"
    rcli flushall >/dev/null
    raw_work=; [[ $app == raw-poem-merge ]] && raw_work=merge
    [[ $app == raw-*-contract ]] && raw_work=contract
    start_app "$binary"
    if [[ $routes == *incr* || $routes == *read* ]]; then
      # Each connection's first /incr creates its session; the pool is kept.
      rm -f "$WORK/cookies"
      seed=$(run_wrk seed incr 2 "$cookie")
      got=$(wc -l <"$WORK/cookies" 2>/dev/null || echo 0)
      [[ $got -ge $CONNECTIONS ]] || { echo "error: $app: only $got sessions seeded ($seed)" >&2; exit 1; }
    else
      # A bare app has no sessions: the same cookie bytes, valid in shape.
      : >"$WORK/cookies"
      for ((c = 0; c < CONNECTIONS; c++)); do
        echo "session=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" >>"$WORK/cookies"
      done
    fi
    for route in $routes; do
      run_wrk use "$route" "$WARMUP" "$cookie" >/dev/null
      rcli config resetstat >/dev/null
      app0=$(cpu_ticks "$APP_PID"); redis0=$(cpu_ticks "$REDIS_PID")
      line=$(run_wrk use "$route" "$DURATION" "$cookie")
      app1=$(cpu_ticks "$APP_PID"); redis1=$(cpu_ticks "$REDIS_PID")
      cmds=$(commandstats)
      [[ -n $line ]] || { echo "error: $app /$route: wrk printed no result" >&2; exit 1; }
      record=$(printf '{"round":%d,"app":"%s","route":"%s","app_cpu_ticks":%d,"redis_cpu_ticks":%d,"tick_us":%d,"commands":%s,"wrk":%s}' \
        "$round" "$app" "$route" $((app1 - app0)) $((redis1 - redis0)) "$TICK_US" "$cmds" "$line")
      echo "$record" >>"$OUT"
      log "round $round/$ROUNDS $app /$route: $(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); w = r["wrk"]; n = max(w["requests"], 1)
print("%.0f req/s, p99 %.2f ms, app %.1f us/req, redis cmds/req %s, errors %d/%d, fresh %d" % (
    n / (w["duration_us"] / 1e6), w["p99_us"] / 1e3, r["app_cpu_ticks"] * r["tick_us"] / n,
    " ".join("%s=%.2f" % (k, v / n) for k, v in sorted(r["commands"].items())) or "0",
    w["errors"], w["status_errors"], w["fresh"]))' "$record")"
    done
    stop_app
  done
done
log "measured in $(($(date +%s) - started)) s (HZ=$HZ)"
fi

IR_OUT=$RESULTS/load-instructions.jsonl
if [[ $INSTRUCTIONS == 1 ]]; then
  : >"$IR_OUT"
  for entry in "${APPS[@]}"; do
    IFS='|' read -r app binary cookie routes <<<"$entry"
    [[ $app == bare-poem-2 ]] && continue
    for route in $routes; do
      requests= per_request=
      for _attempt in 1 2; do
        read -r _ _ _ requests per_request < <(CARGO_TARGET_DIR=$TARGET QUIET=1 REDIS_PORT=$((REDIS_PORT + 1)) APP_PORT=$((APP_PORT + 1)) \
          bash "$BENCH/profile.sh" "$binary" "$route" 3 || true)
        [[ -n $per_request ]] && break
      done
      [[ -n $per_request ]] || { log "callgrind $app /$route failed twice; left out"; continue; }
      printf '{"app":"%s","route":"%s","requests":%d,"instructions":%d}\n' \
        "$app" "$route" "$requests" "$per_request" >>"$IR_OUT"
      log "callgrind $app /$route: $per_request instructions per request ($requests requests)"
    done
  done
fi

if [[ -n ${APPS_ONLY:-} ]]; then
  python3 "$BENCH/report.py" --only "$OUT"
  exit 0
fi
python3 "$BENCH/report.py" "$OUT" "$RESULTS/load-machine.json" "$BENCH/load-chart.svg" "$MAIN/BENCHMARKS.md" "$([[ $INSTRUCTIONS == 1 ]] && echo "$IR_OUT")"
log "wrote $MAIN/BENCHMARKS.md and $BENCH/load-chart.svg"
