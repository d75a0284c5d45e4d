//! Every store against its real server, in one test binary: the store
//! contract that every backend keeps (`contract`), then each backend's own
//! tests (its layout as Flask-Session writes it, its faults, its fallbacks).
//!
//! Tests that need a server are ignored by default; `scripts/test.sh` starts
//! the servers and runs them with `--include-ignored`. Each backend's module
//! is compiled only with its cargo feature.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod contract;
#[cfg(feature = "memcached")]
mod memcached;
#[cfg(feature = "mongodb")]
mod mongodb;
mod owner_contract;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sql")]
mod sql;
