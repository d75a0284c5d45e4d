//! What the three SQL backends share: a table per app, named so that tables
//! left by earlier runs can be recognised and dropped, and a runtime to query
//! the table from the synchronous tests.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::runtime::Runtime;

use crate::demo::DemoApp;

/// Tables of the conformance apps start with this; the rest is
/// `<unix seconds>_<pid>_<n>`.
pub(super) const TABLE_PREFIX: &str = "conf_";

/// Tables of runs older than this are dropped when a run starts.
pub(super) const STALE_SECS: u64 = 3600;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A table name no other app (or run) uses.
pub(super) fn unique_table() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{TABLE_PREFIX}{}_{}_{}",
        now_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a table name is a conformance table of a run that ended long ago.
pub(super) fn is_stale(table: &str) -> bool {
    table
        .strip_prefix(TABLE_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok())
        .is_some_and(|secs| secs + STALE_SECS < now_secs())
}

/// The `sqlalchemy_table` (or another quoted key) of the app's `Session.toml`.
pub(super) fn setting_of(app: &DemoApp, key: &str) -> String {
    let toml = std::fs::read_to_string(app.dir.path().join("Session.toml")).unwrap();
    toml.lines()
        .find_map(|line| line.strip_prefix(&format!("{key} = ")))
        .map(|quoted| quoted.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("no {key} in the app's Session.toml"))
}

/// One runtime for the whole test binary, to drive the sqlx pools.
pub(super) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}
