//! What several backends' tests share: unique key prefixes and one request
//! through the manager.

#![allow(dead_code)]

use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use session::SessionManager;

/// `{"_permanent": True, "value": "44"}` as msgspec encodes it (reference.md).
pub const REFERENCE_MSGPACK: &[u8] = b"\x82\xaa_permanent\xc3\xa5value\xa244";

/// `test`, then this process, the time and a counter, joined by `sep`: a
/// name no other test (or run) uses.
pub fn unique_name(test: &str, sep: char) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{test}{sep}{}{sep}{nanos}{sep}{n}", std::process::id())
}

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{}:", unique_name(test, ':'))
}

/// Waits until a server of the test's own listens on `port` of loopback.
pub fn wait_for_port(port: u16, server: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{server} did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
