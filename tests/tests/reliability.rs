//! Reliability under load and faults (issue 10; RELIABILITY.md, sections
//! "Concurrency" and "Faults").
//!
//! - `concurrency`: 500 keep-alive clients × 100 sequential `/incr` against a
//!   demo on Redis and on PostgreSQL.
//! - `faults`: a backend server of the test's own (Redis, PostgreSQL,
//!   memcached, the MongoDB test server) killed with SIGKILL and restarted
//!   while load runs.
//! - `filesystem`: the demo killed mid-write, torn files planted in the
//!   directory, a full disk and a denied directory.
//! - `failover`: a Redis master SIGKILLed under load from both demos, its
//!   replica promoted by the Sentinels (`ha_servers::SentinelSet`) or by the
//!   Cluster (`ha_servers::OwnCluster`).
//!
//! Every test here needs live servers or root (a tmpfs mount, a demo run as
//! `nobody`), so all are ignored by plain `cargo test`; `scripts/test.sh` runs
//! them. They run one at a time (see [`harness::serial`]) so that the timings
//! they print are not skewed by each other. Run them alone, with their
//! figures, with:
//!
//! ```sh
//! cargo test -p session-tests --test reliability -- --include-ignored --nocapture
//! ```
//!
//! All traffic goes to 127.0.0.1, and every loop is bounded in count and time.

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "reliability/harness.rs"]
mod harness;

#[path = "reliability/servers.rs"]
mod servers;

#[path = "reliability/concurrency.rs"]
mod concurrency;

#[path = "reliability/faults.rs"]
mod faults;

#[path = "reliability/filesystem.rs"]
mod filesystem;

#[path = "reliability/ha_servers.rs"]
mod ha_servers;

#[path = "reliability/failover.rs"]
mod failover;
