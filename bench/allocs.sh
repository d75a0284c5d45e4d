#!/usr/bin/env bash
# Allocations per request in process, by size, from valgrind's DHAT: N
# requests through the whole Poem stack (bench/src/bin/callgrind_loop.rs, the
# in-process benchmark's loop), for each app and route. Prints allocations per
# request and the sizes of those above glibc's per-thread cache (1,032 bytes):
# a `malloc` and `free` of such a block take glibc's slow path, some 800
# instructions together where a cached one costs some 60 (BENCHMARKS.md,
# issue 20). Counted: the allocation sites hit about once per request or
# more (set-up allocates less often), so a site hit on some requests only is
# left out.
#
#   bash bench/allocs.sh [N]        # apps bare ours poem, routes plain read incr
set -euo pipefail
cd "$(dirname "$0")"
N=${1:-2000}
TARGET=${CARGO_TARGET_DIR:-target}
CARGO_TARGET_DIR=$TARGET cargo build --release --bin callgrind_loop -q
bin=$TARGET/release/callgrind_loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| app | route | allocations per request | above 1,032 bytes, per request (sizes in bytes) |"
echo "|---|---|---:|---|"
for app in bare ours poem; do
  for route in plain read incr; do
    valgrind --tool=dhat --dhat-out-file="$out/$app-$route" "$bin" "$app" "$route" "$N" >/dev/null 2>&1
    python3 - "$out/$app-$route" "$N" "$app" "$route" <<'PY'
import json, sys
path, n, app, route = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sites = [(pp["tb"] // pp["tbk"], pp["tbk"] / n) for pp in json.load(open(path))["pps"] if pp["tbk"] >= 0.95 * n]
large = sorted(((size, per) for size, per in sites if size > 1032), reverse=True)
shown = ", ".join(f"{size}" + (f" ×{per:.2f}" if abs(per - 1) > 0.01 else "") for size, per in large)
print(f"| {app} | `/{route}` | {sum(per for _, per in sites):.1f} | {sum(per for _, per in large):.1f} ({shown or '—'}) |")
PY
  done
done
