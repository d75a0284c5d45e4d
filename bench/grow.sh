#!/usr/bin/env bash
# How cost grows with the session (issue 20): instructions per request of the
# whole app over Redis (callgrind, bench/profile.sh), ours on Poem and poem's
# built-in ServerSession<RedisStorage>, on /read and /incr, for sessions of
# about 100 B, 4 KiB and 32 KiB and with 1, 50 and 500 keys. Each app is
# bench/src/bin/grow_{ours_poem,poem_builtin}.rs: the demo's handlers, plus a
# /fill route that creates each connection's session with the padding
# (GROW_KEYS keys of `x` strings, about GROW_BYTES bytes; see
# session_bench::padding). Writes bench/results/grow.jsonl, bench/grow-chart.svg
# and the growth section of BENCHMARKS.md.
#
#   CARGO_TARGET_DIR=... bash bench/grow.sh
#
# Knobs: SECONDS_=3 (the counted wrk run per point), BUILD=1, MEASURE=1 (0
# reports results/grow.jsonl as it is), REDIS_PORT=6392 APP_PORT=8392.
# Instructions do not drift with the machine's load; the record size is read
# back from Redis (STRLEN of the largest record).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
MAIN=$(dirname "$BENCH")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$BENCH/target}
SECONDS_=${SECONDS_:-3}
BUILD=${BUILD:-1}
MEASURE=${MEASURE:-1}
REDIS_PORT=${REDIS_PORT:-6392}
APP_PORT=${APP_PORT:-8392}
OUT=$BENCH/results/grow.jsonl
mkdir -p "$BENCH/results"

log() { printf '[grow %s] %s\n' "$(date +%T)" "$*" >&2; }

# keys bytes: the size axis at one key, the key-count axis at 4 KiB, and 500
# keys at 32 KiB.
POINTS=("1 100" "1 4096" "1 32768" "50 4096" "500 4096" "50 32768" "500 32768")
APPS=(grow_ours_poem grow_poem_builtin)
ROUTES=(read incr)

if [[ $BUILD == 1 ]]; then
  log "building the growth apps (release, $CARGO_TARGET_DIR)"
  (cd "$BENCH" && cargo build --release -q --bin grow_ours_poem --bin grow_poem_builtin)
fi

if [[ $MEASURE == 1 ]]; then
  : >"$OUT"
  for point in "${POINTS[@]}"; do
    read -r keys bytes <<<"$point"
    for app in "${APPS[@]}"; do
      for route in "${ROUTES[@]}"; do
        line=
        for _attempt in 1 2; do
          line=$(GROW_KEYS=$keys GROW_BYTES=$bytes SEED_ROUTE=fill QUIET=1 RECORD_SIZE=1 \
            REDIS_PORT=$REDIS_PORT APP_PORT=$APP_PORT \
            bash "$BENCH/profile.sh" "$app" "$route" "$SECONDS_" || true)
          [[ $line == IR* ]] && break
        done
        [[ $line == IR* ]] || { log "$app /$route keys=$keys bytes=$bytes failed twice; left out"; continue; }
        read -r _ _ _ requests per_request record <<<"$line"
        printf '{"app":"%s","route":"%s","keys":%d,"bytes":%d,"record":%d,"requests":%d,"instructions":%d}\n' \
          "$app" "$route" "$keys" "$bytes" "$record" "$requests" "$per_request" >>"$OUT"
        log "$app /$route keys=$keys ~${bytes} B (record $record B): $per_request instructions per request ($requests requests)"
      done
    done
  done
fi

python3 "$BENCH/report.py" --grow "$OUT" "$BENCH/grow-chart.svg" "$MAIN/BENCHMARKS.md"
log "wrote $MAIN/BENCHMARKS.md and $BENCH/grow-chart.svg"
