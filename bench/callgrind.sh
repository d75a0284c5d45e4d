#!/usr/bin/env bash
# Instructions per request of the session layer alone, from callgrind: N
# requests through the whole Poem stack in-process (no network, memory
# stores), counting only the measured loop. The session layer's cost is the
# app's count minus bare Poem's on the same route; see the boundary in
# src/bin/callgrind_loop.rs. Instruction counts do not drift with the
# machine's load: the same binary gives the same figures.
#
#   bash bench/callgrind.sh [N]          # prints the table
#   WRITE=1 bash bench/callgrind.sh [N]  # also rewrites its section of BENCHMARKS.md
set -euo pipefail
cd "$(dirname "$0")"
N=${1:-2000}
TARGET=${CARGO_TARGET_DIR:-target}
CARGO_TARGET_DIR=$TARGET cargo build --release --bin callgrind_loop -q
bin=$TARGET/release/callgrind_loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A ir
for app in bare ours poem; do
  for route in plain read incr; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$app-$route" \
      --toggle-collect='*measured_loop*' "$bin" "$app" "$route" "$N" >/dev/null 2>&1
    total=$(grep -E '^(summary|totals):' "$out/$app-$route" | head -1 | awk '{print $2}')
    ir[$app-$route]=$((total / N))
  done
done

bar() { # route ratio -> whether the issue's bar is met
  case $1 in
    incr) awk -v r="$2" 'BEGIN { print (r <= 0.75 ? "≤ 0.75: met" : "≤ 0.75: missed") }' ;;
    read) awk -v r="$2" 'BEGIN { print (r <= 1.0 ? "≤ 1.0: met" : "≤ 1.0: missed") }' ;;
    *) echo "—" ;;
  esac
}

table=$(
  echo "| route | bare Poem | ours | poem built-in | ours − bare | poem − bare | ours ÷ poem | bar |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for route in plain read incr; do
    b=${ir[bare-$route]}; o=${ir[ours-$route]}; p=${ir[poem-$route]}
    ratio=$(awk -v o=$((o - b)) -v p=$((p - b)) 'BEGIN { printf "%.2f", o / p }')
    printf '| `/%s` | %d | %d | %d | %d | %d | **%s** | %s |\n' \
      "$route" "$b" "$o" "$p" $((o - b)) $((p - b)) "$ratio" "$(bar "$route" "$ratio")"
  done
)
# The cost of merge (the default write mode) against Flask's overwrite, on a
# write with no conflict: the conditional save against the plain one.
valgrind --tool=callgrind --callgrind-out-file="$out/overwrite-incr" \
  --toggle-collect='*measured_loop*' "$bin" ours-overwrite incr "$N" >/dev/null 2>&1
total=$(grep -E '^(summary|totals):' "$out/overwrite-incr" | head -1 | awk '{print $2}')
ir[overwrite-incr]=$((total / N))
merge_cost=$(awk -v m=$((ir[ours-incr] - ir[bare-incr])) -v o=$((ir[overwrite-incr] - ir[bare-incr])) \
  'BEGIN { printf "%+.1f%%", (m / o - 1) * 100 }')
merge_line="\`/incr\` with \`write_mode = \"overwrite\"\`: ${ir[overwrite-incr]} instructions (session layer $((ir[overwrite-incr] - ir[bare-incr]))); merge, the default, costs $merge_cost on the session layer."

echo "$table"
echo
echo "$merge_line"

if [[ ${WRITE:-0} == 1 ]]; then
  section=$(cat <<SECTION
<!-- callgrind:begin (written by WRITE=1 bench/callgrind.sh; edits inside are overwritten) -->

## Session-layer instructions per request (callgrind, in-process)

\`\`\`sh
WRITE=1 bash bench/callgrind.sh $N
\`\`\`

$table

$merge_line

Instructions per request, averaged over $N requests after 100 warm-up requests, from
\`valgrind --tool=callgrind\` counting only the measured loop
(\`bench/src/bin/callgrind_loop.rs\`). Each request goes through the whole Poem stack in-process:
a \`Route\` with \`/plain\`, \`/read\` and \`/incr\`, wrapped by the session middleware, boxed,
called with a request carrying the session cookie of an existing session. *ours* is this
framework's \`SessionMiddleware\` with the memory store and default settings (msgpack, permanent,
\`refresh_each_request\`: \`/read\` refreshes the expiry and sends a new \`Set-Cookie\`), with the
handlers using \`TypedSession<Visit>\`; *poem built-in* is \`ServerSession<MemoryStorage>\` with
\`session.get\`/\`session.set\` (it refreshes nothing on a read). **Boundary:** bare Poem gets
the same request with a cookie of the same shape and answers every route with its \`/plain\`
handler, so *app − bare* is the session middleware, its extractor, its store and the handler's own
session code; building and dropping the request and response, routing and the boxing of the
endpoint are counted for all three and cancel out. The issue's bars: \`/incr\` ≤ 0.75 and
\`/read\` ≤ 1.0 of poem's built-in. Measured $(date -u +%Y-%m-%dT%H:%MZ), rustc $(rustc --version | awk '{print $2}'),
valgrind $(valgrind --version | sed 's/valgrind-//'); the same binary gives the same counts whatever the machine's load.

<!-- callgrind:end -->
SECTION
)
  python3 - "$section" <<'PY'
import re, sys
path = "../BENCHMARKS.md"
text = open(path).read()
section = sys.argv[1]
pattern = re.compile(r"<!-- callgrind:begin.*?<!-- callgrind:end -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text)
else:
    marker = "<!-- load:begin"
    at = text.index(marker)
    text = text[:at] + section + "\n\n" + text[at:]
open(path, "w").write(text)
PY
  echo "BENCHMARKS.md updated"
fi
