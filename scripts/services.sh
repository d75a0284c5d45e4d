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

# MongoDB: no mongod exists for this machine kind. SecantusDB (PyPI, a
# MongoDB-wire server on WiredTiger; pre-release only, so pinned) runs in a venv
# inside the build directory, in memory, on 127.0.0.1:27017. Slow to start
# (about 10 s) and to serve: fine for tests, not for benchmarks.
SECANTUSDB_VERSION=0.7.0b3
mongodb_answers() {
  "$1/bin/python" - <<'PY'
import sys
from pymongo import MongoClient
try:
    MongoClient("mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=1000).admin.command("ping")
except Exception:
    sys.exit(1)
PY
}
ensure_mongodb() {
  local root state venv
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  state="${SESSION_TEST_STATE:-$root/target/test-services}"
  venv="$state/venv-mongo"
  mkdir -p "$state"
  if ! "$venv/bin/python" -c 'import sys, importlib.metadata as m; sys.exit(m.version("secantusdb") != sys.argv[1])' \
      "$SECANTUSDB_VERSION" 2>/dev/null; then
    log "installing secantusdb==$SECANTUSDB_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "secantusdb==$SECANTUSDB_VERSION"
  fi
  if mongodb_answers "$venv"; then return 0; fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; then
    log "starting secantusd-py on 127.0.0.1:27017 (log: $state/mongodb.log)"
    # setsid: the server must outlive the caller's process group (a shell or
    # job runner that ends its group would otherwise take the server along).
    (cd "$state" && setsid nohup "$venv/bin/secantusd-py" --host 127.0.0.1 --port 27017 \
      --storage-path :memory: >"$state/mongodb.log" 2>&1 </dev/null &)
  fi
  wait_for 60 mongodb_answers "$venv" || { tail -n 20 "$state/mongodb.log" >&2 || true; return 1; }
}

# --- Redis, memcached and a Redis Cluster (the redis and memcached backends) ---

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
port_closed() { ! port_open "$1"; }

redis_ping() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}

# The shared Redis on 6379, which this machine kind starts before a session:
# restarted with the kind's own command if it has stopped.
ensure_redis() {
  if redis_ping 6379; then return 0; fi
  log "starting redis on 6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 10 redis_ping 6379
}

# memcached on 11211, installed from Debian's packages where it is missing
# (apt never starts services on this kind).
ensure_memcached() {
  apt_install memcached
  if port_open 11211; then return 0; fi
  log "starting memcached on 11211"
  memcached -d -u memcache -l 127.0.0.1 -p 11211
  wait_for 10 port_open 11211
}

# The masters, and one replica per master (REDIS_CLUSTER_REPLICA_PORTS[i]
# replicates REDIS_CLUSTER_PORTS[i]), so that a master can be lost. The tests
# seed their clients with the masters and count keys on them.
REDIS_CLUSTER_PORTS=(7000 7001 7002)
REDIS_CLUSTER_REPLICA_PORTS=(7003 7004 7005)

redis_cluster_dir() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  echo "${SESSION_TEST_STATE:-$root/target/test-services}/redis-cluster"
}

redis_cluster_ok() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    redis-cli -h 127.0.0.1 -p "$port" role 2>/dev/null | head -n 1 | grep -qx master || return 1
  done
}

# True when the node on $1 is a cluster replica of the one on $2, in sync.
redis_replica_of() {
  local info
  info="$(redis-cli -h 127.0.0.1 -p "$1" info replication 2>/dev/null)" || return 1
  grep -q '^role:slave' <<<"$info" && grep -q "^master_port:$2" <<<"$info" \
    && grep -q '^master_link_status:up' <<<"$info"
}

redis_cluster_replicated() {
  local i
  for i in "${!REDIS_CLUSTER_PORTS[@]}"; do
    redis_replica_of "${REDIS_CLUSTER_REPLICA_PORTS[$i]}" "${REDIS_CLUSTER_PORTS[$i]}" || return 1
  done
}

# Starts a fresh, empty cluster node on $1 in a fresh directory, stopping
# whatever answered there before.
redis_cluster_node() {
  local port=$1 dir
  dir="$(redis_cluster_dir)"
  if port_open "$port"; then
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait_for 10 port_closed "$port"
  fi
  rm -rf "${dir:?}/$port"
  mkdir -p "$dir/$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$dir/$port" --logfile "$dir/$port/redis.log" \
    --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 5000
}

# A Redis Cluster of 3 masters on 7000-7002, each with one replica on
# 7003-7005, keeping nothing on disk but each node's nodes file. Left alone
# when the masters say cluster_state:ok and every replica is in sync with its
# master. Broken masters: every node is stopped and the masters are made
# anew, each in a fresh directory. A missing or broken replica alone is
# replaced without touching the masters (so a running cluster without
# replicas gains them in place), its stale entry forgotten by the cluster.
ensure_redis_cluster() {
  if redis_cluster_ok && redis_cluster_replicated; then return 0; fi
  local dir port addrs=()
  dir="$(redis_cluster_dir)"
  if ! redis_cluster_ok; then
    log "creating a Redis Cluster on ${REDIS_CLUSTER_PORTS[*]} (dirs under $dir)"
    for port in "${REDIS_CLUSTER_REPLICA_PORTS[@]}"; do
      if port_open "$port"; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
        wait_for 10 port_closed "$port"
      fi
    done
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
      redis_cluster_node "$port"
      addrs+=("127.0.0.1:$port")
    done
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
      wait_for 10 redis_ping "$port"
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
    wait_for 30 redis_cluster_ok
  fi
  ensure_redis_cluster_replicas
}

ensure_redis_cluster_replicas() {
  local i master replica master_id stale node
  for i in "${!REDIS_CLUSTER_PORTS[@]}"; do
    master="${REDIS_CLUSTER_PORTS[$i]}"
    replica="${REDIS_CLUSTER_REPLICA_PORTS[$i]}"
    redis_replica_of "$replica" "$master" && continue
    log "adding a replica on $replica to the Redis Cluster master on $master"
    redis_cluster_node "$replica"
    wait_for 10 redis_ping "$replica"
    # A node the cluster still lists on this port (a replica that died) is
    # forgotten first, or it would linger as a failed node.
    stale="$(redis-cli -h 127.0.0.1 -p "$master" cluster nodes \
      | awk -v addr="127.0.0.1:$replica@" 'index($2, addr) == 1 { print $1 }')"
    for node in $stale; do
      for port in "${REDIS_CLUSTER_PORTS[@]}" "${REDIS_CLUSTER_REPLICA_PORTS[@]}"; do
        redis-cli -h 127.0.0.1 -p "$port" cluster forget "$node" >/dev/null 2>&1 || true
      done
    done
    master_id="$(redis-cli -h 127.0.0.1 -p "$master" cluster myid)"
    redis-cli --cluster add-node "127.0.0.1:$replica" "127.0.0.1:$master" \
      --cluster-slave --cluster-master-id "$master_id" >/dev/null
  done
  wait_for 60 redis_cluster_replicated
  wait_for 30 redis_cluster_ok
}

# --- PostgreSQL and MariaDB (the SQL backend) ---

# The database the SQL tests use on both servers; each test makes tables of
# its own in it.
SQL_TEST_DB=sessions_test

postgres_ready() {
  pg_isready -h 127.0.0.1 -p 5432 -q
}

# PostgreSQL on 5432 (trust auth), which this machine kind starts before a
# session: restarted with the kind's own command if it has stopped.
ensure_postgres() {
  if ! postgres_ready; then
    log "starting PostgreSQL on 5432"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for 30 postgres_ready
  fi
  if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$SQL_TEST_DB'")" != "1" ]; then
    log "creating PostgreSQL database $SQL_TEST_DB"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $SQL_TEST_DB" >/dev/null \
      || [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$SQL_TEST_DB'")" = "1" ]
  fi
}

mariadb_ready() {
  mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1
}

# MariaDB on 3306 (root, empty password), started before a session on this
# machine kind: restarted with the kind's own command if it has stopped.
ensure_mariadb() {
  if ! mariadb_ready; then
    log "starting MariaDB on 3306"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for 30 mariadb_ready
  fi
  mariadb -h 127.0.0.1 -P 3306 -u root -e "CREATE DATABASE IF NOT EXISTS $SQL_TEST_DB"
}

# --- Flask-Session 0.8 (the interop tests, tests/tests/interop.rs) ---

# The real Flask-Session 0.8.0, Flask and the Python clients of each shared
# backend, pinned in tests/flask_app/requirements.txt, in a venv inside the
# build directory. Reinstalled only when the requirements file changes (a
# stamp in the venv holds its hash), so a second run costs nothing.
ensure_flask() {
  local root state venv requirements stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  state="${SESSION_TEST_STATE:-$root/target/test-services}"
  venv="$state/venv-flask"
  requirements="$root/tests/flask_app/requirements.txt"
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
      && "$venv/bin/python" -c 'import flask_session, flask_login, redis, pymongo, pymemcache, flask_sqlalchemy, psycopg2' 2>/dev/null; then
    return 0
  fi
  log "installing Flask-Session 0.8.0 and the Python clients into $venv"
  mkdir -p "$state"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
}

# --- the fault tests (tests/tests/reliability.rs) ---

# They start servers of their own on ports of their own, never the shared
# ones: redis-server, memcached and the SecantusDB venv (above), and a
# PostgreSQL cluster made with initdb from Debian's server binaries, which
# this machine kind has. They also mount a 64 KiB tmpfs (root).
ensure_fault_tools() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
  command -v mount >/dev/null && command -v umount >/dev/null
}

ensure_all() {
  # Backends register here (see the functions above).
  ensure_redis
  ensure_memcached
  ensure_redis_cluster
  ensure_mongodb
  ensure_postgres
  ensure_mariadb
  ensure_flask
  ensure_fault_tools
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_all
fi
