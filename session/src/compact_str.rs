//! A short string kept inline, a longer one on the heap.
//!
//! Session ids and session cookie values are a few dozen bytes, and one of
//! each is made on every request that loads a session. Keeping them inline
//! saves that request two heap allocations.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A string of up to `N` bytes stored in place; longer ones are boxed.
#[derive(Clone)]
pub(crate) enum CompactStr<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Box<str>),
}

impl<const N: usize> CompactStr<N> {
    /// The empty string.
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        bytes: [0; N],
    };

    pub(crate) fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= N => {
                let mut bytes = [0; N];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(s.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from a `str`, so this never fails.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Heap(s) => s,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }
}

impl<const N: usize> PartialEq for CompactStr<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for CompactStr<N> {}

impl<const N: usize> Hash for CompactStr<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// Shows only the length: both users hold bearer tokens.
impl<const N: usize> fmt::Debug for CompactStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactStr({} bytes)", self.as_str().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_stay_inline_and_long_ones_go_to_the_heap() {
        let short = CompactStr::<8>::new("abcdefgh");
        assert!(matches!(short, CompactStr::Inline { .. }));
        assert_eq!(short.as_str(), "abcdefgh");
        let long = CompactStr::<8>::new("abcdefghi");
        assert!(matches!(long, CompactStr::Heap(_)));
        assert_eq!(long.as_str(), "abcdefghi");
        assert!(CompactStr::<8>::EMPTY.is_empty());
    }

    #[test]
    fn equality_ignores_where_the_bytes_live() {
        let heap = CompactStr::<4>::Heap("ab".into());
        assert_eq!(CompactStr::<4>::new("ab"), heap);
        assert_ne!(CompactStr::<4>::new("ab"), CompactStr::<4>::new("abc"));
        // An inline length above 255 cannot happen: `new` boxes it instead.
        let big = CompactStr::<300>::new(&"x".repeat(290));
        assert!(matches!(big, CompactStr::Heap(_)));
        assert_eq!(big.as_str().len(), 290);
    }
}
