#!/usr/bin/env bash
# Starts, idempotently, every server the test suite needs on a machine of the
# rust-svc kind, and creates the test databases. Sourced by scripts/test.sh;
# safe to run again. Each backend adds one `ensure_*` function and one call.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

# Waits until "$@" succeeds, for at most $1 seconds.
wait_for() {
  local seconds=$1; shift
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "timed out waiting for: $*"
  return 1
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_all() {
  # Backends register here (see the functions above).
  :
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_all
fi
