//! At most one store read per request: the first load of a request's session
//! reads the store, later ones share its result.
//!
//! An async once-cell would do, but its semaphore cost a quarter of what the
//! rest of the load path costs. Loads of one request are almost always
//! sequential (one extractor or guard after another), so the gate is a single
//! atomic: the first caller takes a ticket and loads; a caller that finds a
//! load under way yields until it ends. A load that fails or is cancelled
//! drops its ticket and reopens the gate, so a later call tries again.

use std::sync::atomic::{AtomicU8, Ordering};

const UNLOADED: u8 = 0;
const LOADING: u8 = 1;
const LOADED: u8 = 2;

/// Whether a request's session is loaded, being loaded, or neither.
#[derive(Debug, Default)]
pub(crate) struct LoadGate(AtomicU8);

/// What [`LoadGate::enter`] found.
pub(crate) enum Entry<'a> {
    /// The session is loaded.
    Loaded,
    /// The caller must load it, then call [`LoadTicket::complete`].
    Load(LoadTicket<'a>),
    /// Another caller is loading it.
    Busy,
}

impl LoadGate {
    pub(crate) fn is_loaded(&self) -> bool {
        self.0.load(Ordering::Acquire) == LOADED
    }

    pub(crate) fn enter(&self) -> Entry<'_> {
        match self
            .0
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
}

/// The right to load; dropped without [`Self::complete`], it reopens the gate.
pub(crate) struct LoadTicket<'a> {
    gate: &'a LoadGate,
    completed: bool,
}

impl LoadTicket<'_> {
    /// Marks the session loaded: call it once the loaded state is in place.
    pub(crate) fn complete(mut self) {
        self.completed = true;
        self.gate.0.store(LOADED, Ordering::Release);
    }
}

impl Drop for LoadTicket<'_> {
    fn drop(&mut self) {
        if !self.completed {
            self.gate.0.store(UNLOADED, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_loads_and_later_callers_see_it_loaded() {
        let gate = LoadGate::default();
        let Entry::Load(ticket) = gate.enter() else {
            panic!("the first caller loads");
        };
        assert!(matches!(gate.enter(), Entry::Busy));
        assert!(!gate.is_loaded());
        ticket.complete();
        assert!(gate.is_loaded());
        assert!(matches!(gate.enter(), Entry::Loaded));
    }

    #[test]
    fn a_failed_or_cancelled_load_reopens_the_gate() {
        let gate = LoadGate::default();
        let Entry::Load(ticket) = gate.enter() else {
            panic!("the first caller loads");
        };
        drop(ticket);
        assert!(!gate.is_loaded());
        assert!(matches!(gate.enter(), Entry::Load(_)));
    }
}
