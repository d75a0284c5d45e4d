//! Tests that run the built `sessionctl` binary, as an operator would, with
//! its settings in a `Session.toml` of a temporary directory and in `SESSION_*`
//! variables (the test process's own environment never reaches it). Tests
//! that need the servers of `scripts/services.sh` are ignored by a plain
//! `cargo test`; `scripts/test.sh` runs them.
#![allow(clippy::unwrap_used)]

mod check;
mod cleanup;
mod owner;
mod ping;
mod show;
mod support;
