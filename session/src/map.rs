//! The session map: string keys to msgpack-encoded values, in insertion order.
//!
//! Each value is kept as the exact msgpack bytes it was read as, so a key this
//! app never touches is written back byte for byte: a Flask app's `_flashes`,
//! binary values, timestamps and uint64s survive any number of Rust rewrites.
//!
//! A decoded record keeps its bytes in one buffer and the entries point into
//! it, so loading a session costs two allocations whatever its size; only keys
//! that change get buffers of their own. Sessions are small, so lookups scan
//! the entries instead of hashing.

use std::fmt;
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::value::{from_msgpack, to_msgpack, ValueError};

/// The key Flask stores the permanent flag under.
pub const PERMANENT_KEY: &str = "_permanent";

/// msgpack `true` and `false`.
const MSGPACK_TRUE: u8 = 0xc3;
const MSGPACK_FALSE: u8 = 0xc2;

/// Bytes of a key or a value: a range of the stored buffer, short enough to
/// live in the slot itself, owned, or (for the keys of typed sessions) static.
#[derive(Clone)]
enum Slot {
    Stored(Range<usize>),
    /// Most values a handler writes (a counter, a flag, an id) fit here, and
    /// cost no allocation; the slot stays as small as the other variants.
    Small {
        len: u8,
        bytes: [u8; SMALL_SLOT],
    },
    Owned(Box<[u8]>),
    Static(&'static [u8]),
}

/// The longest value kept inside a [`Slot`].
const SMALL_SLOT: usize = 22;

impl Slot {
    fn copy_of(raw: &[u8]) -> Self {
        match u8::try_from(raw.len()) {
            Ok(len) if raw.len() <= SMALL_SLOT => {
                let mut bytes = [0; SMALL_SLOT];
                bytes[..raw.len()].copy_from_slice(raw);
                Self::Small { len, bytes }
            }
            _ => Self::Owned(raw.into()),
        }
    }

    /// Takes the buffer over when it is too long to copy into the slot.
    fn from_vec(raw: Vec<u8>) -> Self {
        if raw.len() <= SMALL_SLOT {
            Self::copy_of(&raw)
        } else {
            Self::Owned(raw.into_boxed_slice())
        }
    }
}

/// One key and its value.
#[derive(Clone)]
pub(crate) struct Entry {
    key: Slot,
    value: Slot,
}

/// An ordered map of session keys to msgpack-encoded values.
#[derive(Clone, Default)]
pub struct SessionMap {
    /// The record as read from the store; stored slots index into it.
    stored: Vec<u8>,
    entries: Vec<Entry>,
}

impl SessionMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            stored: Vec::new(),
            entries: Vec::with_capacity(capacity),
        }
    }

    /// A map over a stored record: `entries` are [`Self::stored_entry`]s over
    /// `stored`, keys already checked to be UTF-8 and unique, values
    /// well-formed.
    pub(crate) fn from_stored(stored: Vec<u8>, entries: Vec<Entry>) -> Self {
        Self { stored, entries }
    }

    /// An entry whose key and value are byte ranges of the stored record.
    pub(crate) fn stored_entry(key: Range<usize>, value: Range<usize>) -> Entry {
        Entry {
            key: Slot::Stored(key),
            value: Slot::Stored(value),
        }
    }

    /// Remembers `record` as the bytes this map was decoded from, for a map
    /// whose entries are all owned (a JSON record).
    pub(crate) fn with_record(mut self, record: Vec<u8>) -> Self {
        debug_assert!(self
            .entries
            .iter()
            .all(|e| !matches!(e.key, Slot::Stored(_))));
        if self.stored.is_empty() {
            self.stored = record;
        }
        self
    }

    /// The record this map was decoded from, if it was decoded from one.
    pub(crate) fn stored_bytes(&self) -> &[u8] {
        &self.stored
    }

    fn bytes<'a>(&'a self, slot: &'a Slot) -> &'a [u8] {
        match slot {
            Slot::Stored(range) => self.stored.get(range.clone()).unwrap_or_default(),
            Slot::Small { len, bytes } => &bytes[..usize::from(*len)],
            Slot::Owned(bytes) => bytes,
            Slot::Static(bytes) => bytes,
        }
    }

    fn key_str<'a>(&'a self, entry: &'a Entry) -> &'a str {
        // Keys are validated as UTF-8 when decoded or inserted.
        std::str::from_utf8(self.bytes(&entry.key)).unwrap_or_default()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| self.bytes(&e.key) == key.as_bytes())
    }

    /// Deserializes the value under `key`. `Ok(None)` when the key is absent; an
    /// error when the stored value does not fit `T`.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the stored value does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.get_raw(key)
            .map(|raw| from_msgpack(key, raw))
            .transpose()
    }

    /// The raw msgpack bytes under `key`.
    pub fn get_raw(&self, key: &str) -> Option<&[u8]> {
        let entry = &self.entries[self.position(key)?];
        Some(self.bytes(&entry.value))
    }

    /// Serializes `value` and stores it under `key`.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when `value` cannot be encoded.
    pub fn insert<T: Serialize + ?Sized>(
        &mut self, key: &str, value: &T,
    ) -> Result<(), ValueError> {
        let raw = to_msgpack(key, value)?;
        self.set(key, || Slot::copy_of(key.as_bytes()), Slot::from_vec(raw));
        Ok(())
    }

    /// Stores already-encoded msgpack bytes under `key`. The caller guarantees
    /// the bytes are one well-formed msgpack value.
    pub fn insert_raw(&mut self, key: String, raw: Vec<u8>) {
        let new_key = || Slot::copy_of(key.as_bytes());
        self.set(&key, new_key, Slot::from_vec(raw));
    }

    /// [`Self::insert_raw`] for a key known at compile time, as a typed
    /// session's are: the key is never copied.
    pub(crate) fn insert_static(&mut self, key: &'static str, raw: &[u8]) {
        self.set(key, || Slot::Static(key.as_bytes()), Slot::copy_of(raw));
    }

    /// The key's slot is made only when the key is new.
    fn set(&mut self, key: &str, new_key: impl FnOnce() -> Slot, value: Slot) {
        match self.position(key) {
            Some(i) => self.entries[i].value = value,
            None => self.entries.push(Entry {
                key: new_key(),
                value,
            }),
        }
    }

    /// Removes `key`, keeping the order of the others. True if it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.position(key) {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes every key, the permanent flag included.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The keys, in order, `_permanent` included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| self.key_str(e))
    }

    /// Keys and raw values, in order.
    pub fn iter_raw(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries
            .iter()
            .map(|e| (self.key_str(e), self.bytes(&e.value)))
    }

    /// Keys and raw values as bytes, in order, for the encoders: keys were
    /// checked to be UTF-8 when they entered the map.
    pub(crate) fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|e| (self.bytes(&e.key), self.bytes(&e.value)))
    }

    /// The number of keys, `_permanent` included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map holds no key but `_permanent`: such a session is never
    /// stored.
    pub fn is_empty(&self) -> bool {
        self.entries
            .iter()
            .all(|e| self.bytes(&e.key) == PERMANENT_KEY.as_bytes())
    }

    /// The stored permanent flag: true only when `_permanent` is msgpack `true`.
    pub fn is_permanent(&self) -> bool {
        self.get_raw(PERMANENT_KEY) == Some(&[MSGPACK_TRUE])
    }

    /// [`Self::is_empty`] and [`Self::is_permanent`] in one pass, for finish.
    pub(crate) fn emptiness_and_permanence(&self) -> (bool, bool) {
        let (mut empty, mut permanent) = (true, false);
        for entry in &self.entries {
            if self.bytes(&entry.key) == PERMANENT_KEY.as_bytes() {
                permanent = self.bytes(&entry.value) == [MSGPACK_TRUE];
            } else {
                empty = false;
            }
        }
        (empty, permanent)
    }

    /// Sets `_permanent`, as Flask's `session.permanent = value` does.
    pub fn set_permanent(&mut self, permanent: bool) {
        let raw = if permanent {
            MSGPACK_TRUE
        } else {
            MSGPACK_FALSE
        };
        self.insert_static(PERMANENT_KEY, &[raw]);
    }
}

/// Two maps are equal when they hold the same keys, in the same order, with the
/// same value bytes, wherever those bytes live.
impl PartialEq for SessionMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_raw().eq(other.iter_raw())
    }
}

impl Eq for SessionMap {}

impl fmt::Debug for SessionMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are session data: show their sizes, never their bytes.
        f.debug_map()
            .entries(
                self.iter_raw()
                    .map(|(k, v)| (k, format!("<{} bytes>", v.len()))),
            )
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The inline variant must not make every entry bigger.
    #[test]
    fn a_slot_is_no_bigger_than_a_range_and_a_tag() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
    }

    #[test]
    fn short_and_long_values_read_back_wherever_they_live() {
        let mut map = SessionMap::new();
        let long = "x".repeat(200);
        for value in ["", "a", &"b".repeat(20), &"c".repeat(21), &long] {
            map.insert("k", value).unwrap();
            assert_eq!(map.get::<String>("k").unwrap().as_deref(), Some(value));
            map.insert_raw(
                "raw".into(),
                crate::value::to_msgpack("raw", value).unwrap(),
            );
            assert_eq!(map.get::<String>("raw").unwrap().as_deref(), Some(value));
        }
        assert!(matches!(map.entries[0].value, Slot::Owned(_)));
        map.insert("k", &1u8).unwrap();
        assert!(matches!(map.entries[0].value, Slot::Small { .. }));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["k", "raw"]);
    }

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
    fn emptiness_and_permanence_agree_with_their_own_methods() {
        let mut map = SessionMap::new();
        for step in 0..4 {
            match step {
                1 => map.set_permanent(false),
                2 => map.set_permanent(true),
                _ => map.insert("k", &step).unwrap(),
            }
            assert_eq!(
                map.emptiness_and_permanence(),
                (map.is_empty(), map.is_permanent()),
                "step {step}"
            );
        }
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
