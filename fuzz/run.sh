#!/usr/bin/env bash
# Runs one fuzz target: bash fuzz/run.sh <cookie|cookie_header|signature|decode|config> [seconds]
#
# Coverage-guided (cargo-fuzz + libFuzzer, AddressSanitizer) on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz
# passes. The committed seeds in fuzz/corpus/<target>/ are read; new inputs go
# to fuzz/target/corpus-work/<target>/ (ignored by git), so the committed corpus
# stays small. A crash is written to fuzz/artifacts/<target>/ and the script
# exits non-zero. Not part of scripts/test.sh; see RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: bash fuzz/run.sh <cookie|cookie_header|signature|decode|config> [seconds]}
seconds=${2:-600}
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
mkdir -p "target/corpus-work/$target"
export RUSTC_BOOTSTRAP=1
exec nice -n 19 cargo fuzz run -O "$target" \
    "target/corpus-work/$target" "corpus/$target" \
    -- -max_total_time="$seconds" -print_final_stats=1
