//! Harness for the cross-crate tests: starts a demo app as a real process on a
//! free loopback port and talks HTTP/1.1 to it, with a cookie jar per client.
//!
//! The demos are the examples of `session-integrations`; `cargo test` builds
//! them next to the test binaries, and [`demo::DemoApp`] finds them there.

#![allow(clippy::unwrap_used)]

pub mod backends;
pub mod concurrent_writes;
pub mod conformance;
pub mod demo;
pub mod flask;
pub mod header;
pub mod hostile;
pub mod http;
pub mod kv_servers;
pub mod owners;
pub mod port;
