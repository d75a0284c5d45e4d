//! Loopback ports for the servers and demos that the tests start.
//!
//! Binding port 0 and releasing it hands out a port from the kernel's
//! ephemeral range, which the suite's own outgoing connections and other
//! parallel tests draw from too: between the release and the child's bind, the
//! port can be taken (roughly once in a thousand full runs). [`free_port`]
//! instead walks a range below the ephemeral one, each port once per process,
//! starting from an offset derived from the process id so that two test
//! binaries running at once start far apart.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Below Linux's default ephemeral range (32768–60999).
const FIRST: u32 = 20_000;
const COUNT: u32 = 12_000;

/// A loopback port that nothing listens on now and that this process has not
/// handed out before.
///
/// # Panics
///
/// When no port of the range can be bound.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let start = std::process::id().wrapping_mul(2_654_435_761) % COUNT;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..COUNT {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % COUNT;
        let port = u16::try_from(FIRST + offset).expect("the range fits in u16");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}..{}", FIRST + COUNT);
}
