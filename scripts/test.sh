#!/usr/bin/env bash
# The whole test suite, as the README documents it: starts the servers the
# backends need (installing what a fresh machine lacks), then runs every test
# of the workspace, the demos' end-to-end suites included.
#
# Tests that need live servers are marked #[ignore = "needs live servers ..."],
# so a plain `cargo test` lists them as ignored; here they run, and a missing
# server fails them.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/services.sh
# The servers started here outlive this script; they must not inherit its
# stdout, or whoever reads it (CI) would wait for them to exit.
mkdir -p target
services_log=target/services.log
if ! ensure_all >"$services_log" 2>&1 </dev/null; then
  cat "$services_log"
  echo "starting the test services failed; see above" >&2
  exit 1
fi
cat "$services_log"

# The end-to-end tests start the example demos as processes; build them first
# so a clean clone needs nothing else.
cargo build --workspace --all-features --examples --locked
cargo test --workspace --all-features --locked --lib --bins --tests "$@" -- --include-ignored
# The docs build with no warning: broken links and missing docs fail the run.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked
cargo test --workspace --all-features --locked --doc "$@"
