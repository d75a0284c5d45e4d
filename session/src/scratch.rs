//! Byte buffers reused across requests on one thread.
//!
//! A finish that writes encodes the session into one, and a typed view keeps
//! its baseline in one. Taking them from here rather than from the allocator
//! saves a request that writes two heap calls. A buffer not handed back is
//! simply freed; nothing depends on the reuse.

use std::cell::RefCell;

/// Spare buffers kept per thread: enough for the requests in flight on it.
const KEPT: usize = 8;
/// The largest buffer kept, so a rare big session does not pin its memory.
const MAX_KEPT_CAPACITY: usize = 16 * 1024;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `capacity` bytes.
pub(crate) fn take(capacity: usize) -> Vec<u8> {
    let mut buf = SPARE.with_borrow_mut(Vec::pop).unwrap_or_default();
    buf.reserve(capacity);
    buf
}

/// Hands a buffer back for reuse on this thread.
pub(crate) fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    buf.clear();
    SPARE.with_borrow_mut(|spare| {
        if spare.len() < KEPT {
            spare.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_handed_back_is_taken_again_empty() {
        let mut buf = take(64);
        buf.extend_from_slice(b"session data");
        let address = buf.as_ptr();
        give_back(buf);
        let again = take(16);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), address, "the same allocation");
    }

    #[test]
    fn big_buffers_are_not_kept() {
        give_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        let buf = take(1);
        assert!(buf.capacity() <= MAX_KEPT_CAPACITY);
    }
}
