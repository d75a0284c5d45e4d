#!/usr/bin/env bash
# Instructions per request of the session layer, from callgrind: N requests
# through the whole Poem stack in-process (no network), counting only the
# measured loop. The session layer's cost is the app's count minus bare Poem's
# on the same route (the handler's own work differs by a few instructions).
#
#   bash bench/callgrind.sh [N]
set -euo pipefail
cd "$(dirname "$0")"
N=${1:-2000}
CARGO_TARGET_DIR=target cargo build --release --bin callgrind_loop -q
bin=target/release/callgrind_loop
out=$(mktemp -d)
declare -A ir
for app in bare ours poem; do
  for route in plain read incr; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$app-$route" \
      --toggle-collect='*measured_loop*' "$bin" "$app" "$route" "$N" >/dev/null 2>&1
    total=$(grep -E '^(summary|totals):' "$out/$app-$route" | head -1 | awk '{print $2}')
    ir[$app-$route]=$((total / N))
  done
done
printf '%-8s %12s %12s %12s %14s %14s %10s\n' route bare ours poem ours-bare poem-bare ratio
for route in plain read incr; do
  b=${ir[bare-$route]}; o=${ir[ours-$route]}; p=${ir[poem-$route]}
  printf '%-8s %12d %12d %12d %14d %14d %10s\n' "$route" "$b" "$o" "$p" $((o - b)) $((p - b)) \
    "$(awk -v o=$((o - b)) -v p=$((p - b)) 'BEGIN { printf "%.2f", o / p }')"
done
rm -rf "$out"
