//! The storage backends the conformance suite runs against, one file each. A
//! backend describes how to select it in `Session.toml` and, where the test can
//! see the store, how many records it holds.

mod filesystem;
mod memory;

pub use filesystem::Filesystem;
pub use memory::Memory;

use crate::demo::DemoApp;

/// A storage backend under test.
pub trait Backend {
    /// The `Session.toml` that selects it; `extra` lines are appended.
    fn session_toml(&self, extra: &str) -> String;

    /// How many session records the store holds for this app, where the test
    /// can see the store; `None` where it cannot (the memory store lives inside
    /// the demo process).
    fn count_records(&self, app: &DemoApp) -> Option<usize>;
}
