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
ensure_all

# The end-to-end tests start the example demos as processes; build them first
# so a clean clone needs nothing else.
cargo build --workspace --all-features --examples --locked
cargo test --workspace --all-features --locked --lib --bins --tests "$@" -- --include-ignored
cargo test --workspace --all-features --locked --doc "$@"
