//! The session map: string keys to msgpack-encoded values, in insertion order.
//!
//! Each value is kept as the exact msgpack bytes it was read as, so a key this
//! app never touches is written back byte for byte: a Flask app's `_flashes`,
//! binary values, timestamps and uint64s survive any number of Rust rewrites.

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::value::{from_msgpack, to_msgpack, ValueError};

/// The key Flask stores the permanent flag under.
pub const PERMANENT_KEY: &str = "_permanent";

/// msgpack `true` and `false`.
const MSGPACK_TRUE: u8 = 0xc3;
const MSGPACK_FALSE: u8 = 0xc2;

/// An ordered map of session keys to msgpack-encoded values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMap {
    entries: IndexMap<String, Vec<u8>>,
}

impl SessionMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deserializes the value under `key`. `Ok(None)` when the key is absent; an
    /// error when the stored value does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.entries
            .get(key)
            .map(|raw| from_msgpack(key, raw))
            .transpose()
    }

    /// The raw msgpack bytes under `key`.
    pub fn get_raw(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Serializes `value` and stores it under `key`.
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), ValueError> {
        let raw = to_msgpack(key, value)?;
        self.insert_raw(key.to_owned(), raw);
        Ok(())
    }

    /// Stores already-encoded msgpack bytes under `key`. The caller guarantees
    /// the bytes are one well-formed msgpack value.
    pub fn insert_raw(&mut self, key: String, raw: Vec<u8>) {
        self.entries.insert(key, raw);
    }

    /// Removes `key`, keeping the order of the others. True if it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.shift_remove(key).is_some()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Removes every key, the permanent flag included.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The keys, in order, `_permanent` included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Keys and raw values, in order.
    pub fn iter_raw(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The number of keys, `_permanent` included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map holds no key but `_permanent`: such a session is never
    /// stored.
    pub fn is_empty(&self) -> bool {
        self.entries.keys().all(|k| k == PERMANENT_KEY)
    }

    /// The stored permanent flag: true only when `_permanent` is msgpack `true`.
    pub fn is_permanent(&self) -> bool {
        self.entries
            .get(PERMANENT_KEY)
            .is_some_and(|raw| raw.as_slice() == [MSGPACK_TRUE])
    }

    /// Sets `_permanent`, as Flask's `session.permanent = value` does.
    pub fn set_permanent(&mut self, permanent: bool) {
        let raw = if permanent {
            MSGPACK_TRUE
        } else {
            MSGPACK_FALSE
        };
        self.entries.insert(PERMANENT_KEY.to_owned(), vec![raw]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_serde() {
        let mut map = SessionMap::new();
        map.insert("count", &7u32).unwrap();
        map.insert("name", "ada").unwrap();
        assert_eq!(map.get::<u32>("count").unwrap(), Some(7));
        assert_eq!(map.get::<String>("name").unwrap().as_deref(), Some("ada"));
        assert_eq!(map.get::<u32>("missing").unwrap(), None);
        assert!(map.get::<u32>("name").is_err());
    }

    #[test]
    fn permanent_flag_does_not_make_a_session_non_empty() {
        let mut map = SessionMap::new();
        assert!(map.is_empty());
        map.set_permanent(true);
        assert!(map.is_empty());
        assert!(map.is_permanent());
        map.set_permanent(false);
        assert!(!map.is_permanent());
        map.insert("k", &1).unwrap();
        assert!(!map.is_empty());
        assert!(map.remove("k"));
        assert!(map.is_empty());
    }
}
