//! What several backends' tests share: unique key prefixes and one request
//! through the manager.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
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

/// A loopback port that nothing listens on now and that this process has not
/// handed out before, for a server of the test's own.
///
/// Not port 0 bound and released: that port comes from the kernel's ephemeral
/// range, where the suite's own outgoing connections can take it before the
/// server binds it. This walks a range below that one (Linux's default starts
/// at 32768), from an offset derived from the process id. The cross-crate
/// tests' harness does the same (`session_tests::port`).
pub fn free_port() -> u16 {
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let start = std::process::id().wrapping_mul(2_654_435_761) % COUNT;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..COUNT {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % COUNT;
        let port = u16::try_from(FIRST + offset).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}..{}", FIRST + COUNT);
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
