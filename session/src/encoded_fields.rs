//! The encoded fields of a typed session, one after another in one buffer,
//! which a typed view keeps to tell which fields a handler changed.
//!
//! Each field is its msgpack bytes behind a 4-byte length. A field encoding to
//! msgpack `nil` (`Option::None`) means "no key". A view's baseline and its
//! next encoding share one allocation.

use serde::Serialize;

use crate::value::{write_msgpack, ValueError};

/// msgpack `nil`: a field encoding to it removes its key.
const MSGPACK_NIL: u8 = 0xc0;

/// The encoded fields of a typed session, in [`crate::SessionData::KEYS`]
/// order. Generated code fills it with [`EncodedFields::push`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncodedFields {
    buf: Vec<u8>,
}

impl EncodedFields {
    /// Encodes `value` as the next field; `key` only names it in an error.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when `value` cannot be encoded.
    pub fn push<F: Serialize + ?Sized>(&mut self, key: &str, value: &F) -> Result<(), ValueError> {
        let start = self.buf.len();
        if self.buf.capacity() == 0 {
            // Room for the baseline and, after it, the next encoding.
            self.buf = crate::buffer_pool::take(128);
        }
        self.buf.extend_from_slice(&[0; 4]);
        if let Err(error) = write_msgpack(&mut self.buf, key, value) {
            self.buf.truncate(start);
            return Err(error);
        }
        // A session value is far below 4 GiB: the codec caps a whole session.
        let len = u32::try_from(self.buf.len() - start - 4).unwrap_or(u32::MAX);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// Each field's msgpack bytes, in push order; `None` for a removed key.
    pub fn iter(&self) -> impl Iterator<Item = Option<&[u8]>> + '_ {
        fields_of(&self.buf)
    }

    pub(crate) fn byte_len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// The fields before byte `at`, and those after it.
    pub(crate) fn split_at(
        &self, at: usize,
    ) -> (
        impl Iterator<Item = Option<&[u8]>> + '_,
        impl Iterator<Item = Option<&[u8]>> + '_,
    ) {
        let (before, after) = self.buf.split_at(at.min(self.buf.len()));
        (fields_of(before), fields_of(after))
    }

    /// Hands the buffer back for reuse by a later view.
    pub(crate) fn recycle(self) {
        crate::buffer_pool::give_back(self.buf);
    }

    /// Drops the first `len` bytes, keeping the fields after them.
    pub(crate) fn remove_front(&mut self, len: usize) {
        self.buf.drain(..len.min(self.buf.len()));
    }
}

fn fields_of(mut rest: &[u8]) -> impl Iterator<Item = Option<&[u8]>> + '_ {
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
        let (field, tail) = tail.split_at_checked(len)?;
        rest = tail;
        Some((field != [MSGPACK_NIL]).then_some(field))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields(value: &EncodedFields) -> Vec<Option<Vec<u8>>> {
        value.iter().map(|f| f.map(<[u8]>::to_vec)).collect()
    }

    #[test]
    fn fields_read_back_in_order_with_none_for_nil() {
        let mut encoded = EncodedFields::default();
        encoded.push("a", &1u32).unwrap();
        encoded.push("b", &None::<u32>).unwrap();
        assert_eq!(fields(&encoded), [Some(vec![1]), None]);

        let long = "x".repeat(100);
        encoded.push("c", &long).unwrap();
        let all = fields(&encoded);
        assert_eq!(all.len(), 3);
        assert_eq!(all[..2], [Some(vec![1]), None]);
        assert_eq!(all[2].as_ref().unwrap().len(), 102);
    }

    #[test]
    fn a_write_back_compares_then_keeps_only_the_new_encoding() {
        for first in ["short".to_owned(), "y".repeat(80)] {
            let mut encoded = EncodedFields::default();
            encoded.push("k", &first).unwrap();
            let before_len = encoded.byte_len();
            encoded.push("k", "new").unwrap();
            let (before, after) = encoded.split_at(before_len);
            assert_ne!(before.collect::<Vec<_>>(), after.collect::<Vec<_>>());
            encoded.remove_front(before_len);
            let mut expected = EncodedFields::default();
            expected.push("k", "new").unwrap();
            assert_eq!(fields(&encoded), fields(&expected));
            assert_eq!(encoded, expected, "equal whatever the buffer held before");
            encoded.truncate(0);
            assert_eq!(encoded.iter().count(), 0);
        }
    }
}
