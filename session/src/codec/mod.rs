//! Encoding the session map for the store: msgspec-compatible msgpack (the
//! default) or compact JSON. Decoding accepts both, configured format first,
//! so two apps configured differently can still share a store.

mod json;
mod msgpack;

pub use json::{value_to_json, EncodeJsonError};
pub use session_config::SerializationFormat;

use crate::map::SessionMap;

/// A stored value could not be read as a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The value is larger than `max_session_bytes`.
    #[error("the stored session is {size} bytes, above the {limit}-byte limit")]
    TooLarge {
        /// The stored size.
        size: usize,
        /// `max_session_bytes`.
        limit: usize,
    },
    /// The value ends in the middle of an item.
    #[error("the stored session is truncated")]
    Truncated,
    /// The top-level value is not a map.
    #[error("the stored session is not a msgpack map")]
    NotAMap,
    /// A top-level key is not a string.
    #[error("a session key is not a string")]
    NonStringKey,
    /// A string is not UTF-8.
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    /// Data follows the map.
    #[error("bytes follow the session map")]
    TrailingBytes,
    /// The 0xc1 marker, which msgpack never uses.
    #[error("a reserved msgpack marker was found")]
    ReservedMarker,
    /// A key appears twice in the map.
    #[error("a session key appears twice")]
    DuplicateKey,
    /// Nested deeper than the limit.
    #[error("the stored session is nested too deeply")]
    TooDeep,
    /// Not a JSON object either.
    #[error("not a JSON object: {0}")]
    Json(String),
    /// Python pickle from an older Flask-Session: another app's record.
    #[error("the stored session is a Python pickle (legacy Flask-Session)")]
    Pickle,
}

/// The map could not be encoded for the store.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The encoded session exceeds `max_session_bytes`; it is never truncated.
    #[error("the session encodes to {size} bytes, above the {limit}-byte limit (SESSION_MAX_SESSION_BYTES)")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// `max_session_bytes`.
        limit: usize,
    },
    /// A value has no JSON form.
    #[error(transparent)]
    Json(#[from] EncodeJsonError),
}

/// Which encoding a stored value turned out to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// The configured format: the stored bytes are the canonical encoding.
    AsConfigured,
    /// The other format: a rewrite will convert it.
    AsOther,
}

/// Encodes and decodes the session map in the configured format.
#[derive(Debug, Clone, Copy)]
pub struct Codec {
    format: SerializationFormat,
    max_bytes: usize,
}

impl Codec {
    /// A codec writing `format` and refusing values above `max_bytes`.
    pub fn new(format: SerializationFormat, max_bytes: usize) -> Self {
        Self { format, max_bytes }
    }

    /// The configured format.
    pub fn format(&self) -> SerializationFormat {
        self.format
    }

    /// Encodes in the configured format, refusing a result above the limit.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] when the session is larger than `max_session_bytes`, or
    /// a value has no form in the configured format.
    pub fn encode(&self, map: &SessionMap) -> Result<Vec<u8>, EncodeError> {
        let bytes = match self.format {
            SerializationFormat::MsgPack => msgpack::encode(map),
            SerializationFormat::Json => json::encode(map)?,
        };
        if bytes.len() > self.max_bytes {
            return Err(EncodeError::TooLarge {
                size: bytes.len(),
                limit: self.max_bytes,
            });
        }
        Ok(bytes)
    }

    /// Decodes the configured format, then the other one.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are larger than the cap, are neither
    /// format, or are not a map of string keys.
    pub fn decode(&self, bytes: &[u8]) -> Result<(SessionMap, Decoded), DecodeError> {
        self.decode_owned(bytes.to_vec())
    }

    /// Like [`Codec::decode`], keeping `bytes` as the map's backing store
    /// instead of copying it. The map remembers the record it was read from;
    /// in the configured format that is also its canonical encoding.
    ///
    /// # Errors
    ///
    /// As [`Codec::decode`].
    pub fn decode_owned(&self, bytes: Vec<u8>) -> Result<(SessionMap, Decoded), DecodeError> {
        if bytes.len() > self.max_bytes {
            return Err(DecodeError::TooLarge {
                size: bytes.len(),
                limit: self.max_bytes,
            });
        }
        // Pickle protocols 2-5 open with 0x80 and the protocol number; as msgpack
        // that reads as an empty map followed by junk, so name it plainly.
        if matches!(bytes.as_slice(), [0x80, 2..=5, ..]) {
            return Err(DecodeError::Pickle);
        }
        match self.format {
            SerializationFormat::MsgPack => {
                match msgpack::index(&bytes, SessionMap::stored_entry) {
                    Ok(entries) => Ok((
                        SessionMap::from_stored(bytes, entries),
                        Decoded::AsConfigured,
                    )),
                    // The record is kept: a conditional save compares with it.
                    Err(first_error) => match json::decode(&bytes) {
                        Ok(map) => Ok((map.with_record(bytes), Decoded::AsOther)),
                        Err(_) => Err(first_error),
                    },
                }
            }
            SerializationFormat::Json => match json::decode(&bytes) {
                Ok(map) => Ok((map.with_record(bytes), Decoded::AsConfigured)),
                Err(first_error) => match msgpack::index(&bytes, SessionMap::stored_entry) {
                    Ok(entries) => Ok((SessionMap::from_stored(bytes, entries), Decoded::AsOther)),
                    Err(_) => Err(first_error),
                },
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &[u8] = &[
        0x82, 0xaa, b'_', b'p', b'e', b'r', b'm', b'a', b'n', b'e', b'n', b't', 0xc3, 0xa5, b'v',
        b'a', b'l', b'u', b'e', 0xa2, b'4', b'4',
    ];

    fn codec(format: SerializationFormat) -> Codec {
        Codec::new(format, 64 * 1024)
    }

    #[test]
    fn msgpack_matches_the_reference_vector() {
        let mut map = SessionMap::new();
        map.set_permanent(true);
        map.insert("value", "44").unwrap();
        assert_eq!(
            codec(SerializationFormat::MsgPack).encode(&map).unwrap(),
            MINIMAL
        );
        let (decoded, how) = codec(SerializationFormat::MsgPack).decode(MINIMAL).unwrap();
        assert_eq!(decoded, map);
        assert_eq!(how, Decoded::AsConfigured);
    }

    #[test]
    fn json_matches_the_reference_vector() {
        let mut map = SessionMap::new();
        map.set_permanent(true);
        map.insert("value", "44").unwrap();
        let json = codec(SerializationFormat::Json).encode(&map).unwrap();
        assert_eq!(json, br#"{"_permanent":true,"value":"44"}"#);
    }

    #[test]
    fn decoding_falls_back_to_the_other_format() {
        let json = br#"{"_permanent":true,"value":"44"}"#;
        let (map, how) = codec(SerializationFormat::MsgPack).decode(json).unwrap();
        assert_eq!(how, Decoded::AsOther);
        assert_eq!(map.get::<String>("value").unwrap().as_deref(), Some("44"));
        let (map, how) = codec(SerializationFormat::Json).decode(MINIMAL).unwrap();
        assert_eq!(how, Decoded::AsOther);
        assert!(map.is_permanent());
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let c = codec(SerializationFormat::MsgPack);
        for bad in [
            &b""[..],
            &[0x81][..],
            &[0x81, 0xa1, b'k'][..],
            &[0x81, 0x01, 0x01][..],
            &[0x81, 0xa1, b'k', 0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0x81, 0xa1, b'k', 0xc1][..],
            &[0x80, 0x00][..],
            &[0x80, 0x04, 0x95, 0x00][..],
            b"[1,2]",
            b"{\"a\":",
        ] {
            assert!(c.decode(bad).is_err(), "{bad:?} decoded");
        }
        assert_eq!(
            c.decode(&[0x80, 0x04, 0x95]).unwrap_err(),
            DecodeError::Pickle
        );
    }

    #[test]
    fn json_floats_are_rewritten_with_the_same_text() {
        // Regression (the `decode` fuzz target): without serde_json's
        // `float_roundtrip`, parsing was off by one ulp for some floats, so
        // rewriting a JSON session changed values no one touched.
        let c = codec(SerializationFormat::Json);
        for text in [
            &br#"{"f":3.00000000183411}"#[..],
            br#"{"f":0.1,"g":1e-7,"h":1.7976931348623157e+308}"#,
            br#"{"f":[2.2250738585072014e-308,5e-324,123456.789012345]}"#,
        ] {
            let (map, how) = c.decode(text).unwrap();
            assert_eq!(how, Decoded::AsConfigured);
            assert_eq!(
                c.encode(&map).unwrap(),
                text,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn json_decode_errors_never_quote_the_stored_value() {
        // Regression (tests/security.rs): a JSON record that is not a map was
        // logged with its content.
        let c = codec(SerializationFormat::Json);
        for bad in [
            &br#""secret-data""#[..],
            br#"["secret-data"]"#,
            br#"{"k": "secret-data""#,
            br#"{"k": "secret-data"} secret-data"#,
            b"12345678",
        ] {
            let error = c.decode(bad).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("secret-data"), "{shown}");
            assert!(!shown.contains("12345678"), "{shown}");
            assert!(shown.contains("line 1"), "{shown}");
        }
    }

    #[test]
    fn values_as_deep_as_the_decoders_accept_have_a_json_form() {
        // Regression (the `decode` fuzz target): rmpv counts depth differently
        // from our decoders, so values nested 32 to 64 deep decoded but had no
        // JSON form, and a JSON-configured app failed to rewrite them.
        use crate::value::MAX_DEPTH;
        for leaf in [
            &[0x01][..],
            &[0xa1, b'x'],
            &[0xc4, 1, 0],
            &[0xd6, 0xff, 0, 0, 0, 1],
        ] {
            let mut bytes = vec![0x81, 0xa1, b'k'];
            bytes.extend(std::iter::repeat_n(0x91, MAX_DEPTH - 1));
            bytes.extend_from_slice(leaf);
            let (map, _) = codec(SerializationFormat::MsgPack).decode(&bytes).unwrap();
            assert!(value_to_json("k", map.get_raw("k").unwrap()).is_ok());
            let json = codec(SerializationFormat::Json).encode(&map).unwrap();
            let (back, how) = codec(SerializationFormat::Json).decode(&json).unwrap();
            assert_eq!(how, Decoded::AsConfigured);
            assert_eq!(
                codec(SerializationFormat::Json).encode(&back).unwrap(),
                json
            );

            let mut deeper = vec![0x81, 0xa1, b'k'];
            deeper.extend(std::iter::repeat_n(0x91, MAX_DEPTH));
            deeper.extend_from_slice(leaf);
            assert_eq!(
                codec(SerializationFormat::MsgPack)
                    .decode(&deeper)
                    .unwrap_err(),
                DecodeError::TooDeep
            );
        }
    }

    #[test]
    fn duplicate_keys_are_refused_in_small_and_large_maps() {
        let c = codec(SerializationFormat::MsgPack);
        let small = [0x82, 0xa1, b'k', 0x01, 0xa1, b'k', 0x02];
        assert_eq!(c.decode(&small).unwrap_err(), DecodeError::DuplicateKey);
        let mut large = vec![0xde, 0x00, 40];
        for i in 0..40u8 {
            large.extend_from_slice(&[0xa2, b'k', b'A' + (i % 39), 0x01]);
        }
        assert_eq!(c.decode(&large).unwrap_err(), DecodeError::DuplicateKey);
        large[3 + 4 * 39 + 2] = b'z';
        assert!(c.decode(&large).is_ok());
        // Both copies past the keys compared pairwise.
        large[3 + 4 * 21 + 2] = large[3 + 4 * 20 + 2];
        assert_eq!(c.decode(&large).unwrap_err(), DecodeError::DuplicateKey);
    }

    #[test]
    fn nesting_and_size_are_capped() {
        let mut deep = vec![0x81, 0xa1, b'k'];
        deep.extend(std::iter::repeat_n(0x91, 100));
        deep.push(0x01);
        assert_eq!(
            codec(SerializationFormat::MsgPack)
                .decode(&deep)
                .unwrap_err(),
            DecodeError::TooDeep
        );
        let small = Codec::new(SerializationFormat::MsgPack, 8);
        assert!(matches!(
            small.decode(MINIMAL),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut map = SessionMap::new();
        map.insert("k", "a long value").unwrap();
        assert!(matches!(
            small.encode(&map),
            Err(EncodeError::TooLarge { .. })
        ));
    }
}
