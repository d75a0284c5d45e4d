//! At most one store read per request: the first load of a request's session
//! reads the store, later ones share its result.
//!
//! An async once-cell would do, but its semaphore cost a quarter of what the
//! rest of the load path costs. Loads of one request are almost always
//! sequential (one extractor or guard after another), so the gate is a single
//! atomic: the first caller takes a ticket and loads. A caller that finds a
//! load under way marks the gate as waited on and sleeps on a [`Notify`]
//! until the ticket is completed or dropped; only then does the ticket's
//! holder pay for a wake-up. A load that fails or is cancelled drops its
//! ticket and reopens the gate, so a later call tries again.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

const UNLOADED: u8 = 0;
const LOADING: u8 = 1;
const LOADED: u8 = 2;
/// Loading, and at least one caller waits for the outcome.
const LOADING_WAITED: u8 = 3;

/// Whether a request's session is loaded, being loaded, or neither.
#[derive(Debug, Default)]
pub(super) struct LoadGate {
    state: AtomicU8,
    /// Wakes the callers that found a load under way.
    done: Notify,
}

/// What [`LoadGate::enter`] found.
pub(super) enum Entry<'a> {
    /// The session is loaded.
    Loaded,
    /// The caller must load it, then call [`LoadTicket::complete`].
    Load(LoadTicket<'a>),
    /// Another caller is loading it.
    Busy,
}

impl LoadGate {
    pub(super) fn is_loaded(&self) -> bool {
        self.state.load(Ordering::Acquire) == LOADED
    }

    /// Loaded, the right to load, or busy: another caller is loading, and
    /// [`Self::wait`] sleeps until it ends.
    pub(super) fn try_enter(&self) -> Entry<'_> {
        match self
            .state
            .compare_exchange(UNLOADED, LOADING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => Entry::Load(LoadTicket {
                gate: self,
                completed: false,
            }),
            Err(LOADED) => Entry::Loaded,
            Err(_) => Entry::Busy,
        }
    }

    /// Sleeps until the load under way ends (or at once if it already has).
    pub(super) async fn wait(&self) {
        let notified = self.done.notified();
        tokio::pin!(notified);
        // Registered before the mark, so a ticket that ends between the two
        // still wakes this caller.
        notified.as_mut().enable();
        let marked = match self.state.compare_exchange(
            LOADING,
            LOADING_WAITED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(now) => now == LOADING_WAITED,
        };
        if marked {
            notified.await;
        }
    }

    /// Ends a load in `to`, waking the callers that wait for it.
    fn end_load(&self, to: u8) {
        if self.state.swap(to, Ordering::AcqRel) == LOADING_WAITED {
            self.done.notify_waiters();
        }
    }
}

/// The right to load; dropped without [`Self::complete`], it reopens the gate.
pub(super) struct LoadTicket<'a> {
    gate: &'a LoadGate,
    completed: bool,
}

impl LoadTicket<'_> {
    /// Marks the session loaded: call it once the loaded state is in place.
    pub(super) fn complete(mut self) {
        self.completed = true;
        self.gate.end_load(LOADED);
    }
}

impl Drop for LoadTicket<'_> {
    fn drop(&mut self) {
        if !self.completed {
            self.gate.end_load(UNLOADED);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn first_entry(gate: &LoadGate) -> LoadTicket<'_> {
        match gate.try_enter() {
            Entry::Load(ticket) => ticket,
            _ => panic!("the first caller loads"),
        }
    }

    #[test]
    fn one_caller_loads_and_later_callers_see_it_loaded() {
        let gate = LoadGate::default();
        let ticket = first_entry(&gate);
        assert!(!gate.is_loaded());
        assert!(matches!(gate.try_enter(), Entry::Busy));
        ticket.complete();
        assert!(gate.is_loaded());
        assert!(matches!(gate.try_enter(), Entry::Loaded));
    }

    #[test]
    fn a_failed_or_cancelled_load_reopens_the_gate() {
        let gate = LoadGate::default();
        drop(first_entry(&gate));
        assert!(!gate.is_loaded());
        drop(first_entry(&gate));
    }

    /// A second caller sleeps until the load ends; it does not poll in a
    /// loop, which a leaked or slow loader would turn into a busy spin.
    #[test]
    fn a_waiting_caller_sleeps_until_the_load_ends() {
        let gate = LoadGate::default();
        let ticket = first_entry(&gate);
        let wakes = Arc::new(CountingWaker::default());
        let waker = Waker::from(wakes.clone());
        let mut context = Context::from_waker(&waker);
        assert!(matches!(gate.try_enter(), Entry::Busy));
        let mut second = pin!(gate.wait());
        assert!(second.as_mut().poll(&mut context).is_pending());
        assert!(second.as_mut().poll(&mut context).is_pending());
        let woken = wakes.0.load(Ordering::SeqCst);
        assert_eq!(woken, 0, "woken while nothing changed");
        ticket.complete();
        let woken = wakes.0.load(Ordering::SeqCst);
        assert_eq!(woken, 1, "woken when the load ended");
        assert!(second.as_mut().poll(&mut context).is_ready());
        assert!(matches!(gate.try_enter(), Entry::Loaded));
    }
}
