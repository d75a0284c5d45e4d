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
    // `try_with`: during thread teardown (a typed view held by another
    // thread-local) the spares may be gone; a new buffer does as well.
    let mut buf = SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    buf.reserve(capacity);
    buf
}

/// Hands a buffer back for reuse on this thread.
pub(crate) fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    buf.clear();
    // After the spares are torn down the buffer is simply freed.
    let _ = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
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

    /// A buffer handed back by another thread-local's destructor, after the
    /// spares were torn down (a typed view kept in a thread-local), is freed
    /// instead of panicking in thread teardown, which aborts the process.
    #[test]
    fn a_buffer_handed_back_during_thread_teardown_is_freed() {
        struct HandsBack(Vec<u8>);
        impl Drop for HandsBack {
            fn drop(&mut self) {
                give_back(std::mem::take(&mut self.0));
                let _ = take(8);
            }
        }
        thread_local! {
            static HELD: RefCell<Option<HandsBack>> = const { RefCell::new(None) };
        }
        std::thread::spawn(|| {
            // Registered first, so torn down after the spares.
            HELD.with_borrow_mut(|held| *held = Some(HandsBack(Vec::new())));
            let buf = take(64);
            HELD.with_borrow_mut(|held| *held = Some(HandsBack(buf)));
        })
        .join()
        .expect("thread teardown does not panic");
    }

    #[test]
    fn big_buffers_are_not_kept() {
        give_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        let buf = take(1);
        assert!(buf.capacity() <= MAX_KEPT_CAPACITY);
    }
}
