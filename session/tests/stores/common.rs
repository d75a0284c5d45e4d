//! What several backends' tests share: unique key prefixes and one request
//! through the manager.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use session::SessionManager;

/// `{"_permanent": True, "value": "44"}` as msgspec encodes it (reference.md).
pub const REFERENCE_MSGPACK: &[u8] = b"\x82\xaa_permanent\xc3\xa5value\xa244";

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "test:{test}:{}:{nanos}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The sid in a `Set-Cookie` value.
pub fn sid_of(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// One request through the manager that sets `value = "44"`; returns the sid.
pub async fn write_reference_session(manager: &SessionManager) -> String {
    let request = manager.open([]);
    let session = request.load().await.unwrap();
    session.insert("value", "44").unwrap();
    let outcome = request.finish(200).await.unwrap();
    sid_of(&outcome.set_cookie.unwrap())
}
