#!/usr/bin/env bash
# Where a load-benchmark app spends its instructions: runs one of the apps of
# bench/load.sh under callgrind against its own Redis, seeds one session per
# connection with /incr, then counts only a bounded wrk run of ROUTE (zeroed
# before, dumped after), and prints instructions per request and the heaviest
# functions, inclusive. Instructions, not seconds: repeatable on a busy machine.
#
#   bash bench/profile.sh ours_poem read [SECONDS] [TOP]
#
# Apps: ours_poem ours_rocket poem_builtin raw_poem raw_rocket bare_poem
# bare_rocket tower_sessions raw_axum bare_axum, and the growth apps
# grow_ours_poem grow_poem_builtin (bench/grow.sh). Needs the apps built in
# $CARGO_TARGET_DIR (default bench/target; bash bench/load.sh builds them) and
# valgrind. SEED_ROUTE=incr is the route whose first response per connection
# creates the sessions (bench/grow.sh seeds with /fill). RECORD_SIZE=1 adds,
# in QUIET mode, the largest stored string record in bytes as a sixth field. The callgrind file is kept in bench/results/callgrind.APP.ROUTE.*
# (not committed). QUIET=1 prints only `IR app route requests per_request`
# and keeps no file (bench/load.sh uses it).
set -euo pipefail
APP=${1:?app}
ROUTE=${2:?route}
SECONDS_=${3:-10}
TOP=${4:-40}
REDIS_PORT=${REDIS_PORT:-6391}
APP_PORT=${APP_PORT:-8391}
CONNECTIONS=${CONNECTIONS:-8}
SEED_ROUTE=${SEED_ROUTE:-incr}
BENCH=$(cd "$(dirname "$0")" && pwd)
BIN=${CARGO_TARGET_DIR:-$BENCH/target}/release
WORK=$(mktemp -d /tmp/session-profile.XXXXXX)
OUT=$BENCH/results/callgrind.$APP.$ROUTE
[[ ${QUIET:-0} == 1 ]] && OUT=$WORK/callgrind.out
mkdir -p "$BENCH/results"
rm -f "$OUT".*
cookie=session
[[ $APP == poem_builtin || $APP == grow_poem_builtin ]] && cookie=poem-session

REDIS_PID= APP_PID=
cleanup() {
  [[ -n $APP_PID ]] && { kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; }
  [[ -n $REDIS_PID ]] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$REDIS_PORT" "$APP_PORT"; do
  for _ in $(seq 100); do port_free "$port" && break; sleep 0.1; done
  port_free "$port" || { echo "error: port $port is taken" >&2; exit 1; }
done

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

(cd "$WORK" && exec env -u RUST_LOG -u SESSION_CONFIG PORT="$APP_PORT" SESSION_TYPE=redis \
  SESSION_REDIS="redis://127.0.0.1:$REDIS_PORT" \
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN/$APP" \
  >"$WORK/app.log" 2>&1) &
APP_PID=$!
up=0
for _ in $(seq 600); do
  curl -fs "http://127.0.0.1:$APP_PORT/plain" >/dev/null 2>&1 && { up=1; break; }
  kill -0 "$APP_PID" 2>/dev/null || break
  sleep 0.1
done
[[ $up == 1 ]] || { echo "error: $APP did not start under valgrind:" >&2; tail -20 "$WORK/app.log" >&2; exit 1; }

wrk_run() { # MODE ROUTE SECONDS
  env BENCH_MODE="$1" BENCH_COOKIES="$WORK/cookies" BENCH_COOKIE_NAME="$cookie" \
    BENCH_SESSIONS="$CONNECTIONS" wrk -t1 -c"$CONNECTIONS" -d"$3"s --timeout 10s \
    -s "$BENCH/wrk/session.lua" "http://127.0.0.1:$APP_PORT/$2" | sed -n 's/^BENCH //p'
}
if [[ $APP == bare_* ]]; then
  for ((c = 0; c < CONNECTIONS; c++)); do
    echo "session=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done >"$WORK/cookies"
else
  wrk_run seed "$SEED_ROUTE" 3 >/dev/null
fi
wrk_run use "$ROUTE" 2 >/dev/null
callgrind_control -z "$APP_PID" >/dev/null 2>&1
line=$(wrk_run use "$ROUTE" "$SECONDS_")
callgrind_control -d "$APP_PID" >/dev/null 2>&1
requests=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$line")
dump=$(ls -t "$OUT".* 2>/dev/null | head -1)
total=$(grep -E '^(summary|totals):' "$dump" | head -1 | awk '{print $2}')
if [[ ${QUIET:-0} == 1 ]]; then
  if [[ ${RECORD_SIZE:-0} == 1 ]]; then
    # The sessions' records are the largest strings (an owner index, if any,
    # is not a string: STRLEN answers WRONGTYPE, skipped).
    record=$(redis-cli -p "$REDIS_PORT" --scan | head -50 |
      while read -r key; do redis-cli -p "$REDIS_PORT" strlen "$key"; done |
      grep -E '^[0-9]+$' | sort -n | tail -1)
    echo "IR $APP $ROUTE $requests $((total / requests)) ${record:-0}"
    exit 0
  fi
  echo "IR $APP $ROUTE $requests $((total / requests))"
  exit 0
fi
echo "$APP /$ROUTE: $requests requests, $((total / requests)) instructions per request (all threads)"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '/^-* *$/,$p' |
  grep -E '^ *[0-9,]+ ' | head -"$TOP" |
  awk -v n="$requests" '{ ir = $1; gsub(",", "", ir); $1 = ""; printf "%10d /req %s\n", ir / n, $0 }' |
  cut -c1-220
