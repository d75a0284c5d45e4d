//! Typed values in the session map: serde to and from msgpack, plus the two
//! types msgpack has and serde lacks, binary ([`Bytes`]) and the timestamp
//! extension ([`Timestamp`]).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A value could not be converted to or from its msgpack form.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The Rust value could not be serialized.
    #[error("could not encode session key {key:?}: {message}")]
    Encode {
        /// The session key.
        key: String,
        /// What serde reported.
        message: String,
    },
    /// The stored value does not have the requested type.
    #[error("session key {key:?} does not hold the expected type: {message}")]
    Decode {
        /// The session key.
        key: String,
        /// What serde reported.
        message: String,
    },
}

/// The nesting depth accepted when decoding a stored value.
pub const MAX_DEPTH: usize = 64;

/// Encodes `value` as msgpack the way msgspec does: structs become maps,
/// unit enum variants become strings, integers take their smallest form.
///
/// # Errors
///
/// [`ValueError`] when `value` cannot be serialized (a map with non-string
/// keys, a serializer error of the type itself).
pub fn to_msgpack<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, ValueError> {
    // Most session values are small; one allocation covers them.
    let mut out = Vec::with_capacity(32);
    write_msgpack(&mut out, key, value)?;
    Ok(out)
}

/// Appends `value`'s msgpack encoding, as [`to_msgpack`] makes it, to `out`.
///
/// # Errors
///
/// [`ValueError`] when `value` cannot be serialized.
pub fn write_msgpack<T: Serialize + ?Sized>(
    out: &mut impl std::io::Write, key: &str, value: &T,
) -> Result<(), ValueError> {
    rmp_serde::encode::write_named(out, value).map_err(|e| ValueError::Encode {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes one msgpack value into `T`. The error never quotes the stored
/// value: it is session data, and typed views log it.
///
/// # Errors
///
/// [`ValueError`] when the bytes are not a msgpack value of `T`'s shape; the
/// message never quotes the value.
pub fn from_msgpack<T: DeserializeOwned>(key: &str, raw: &[u8]) -> Result<T, ValueError> {
    // Reading from a slice borrows it; `Deserializer::new` would allocate a
    // scratch buffer on every call.
    let mut de = rmp_serde::Deserializer::from_read_ref(raw);
    de.set_max_depth(MAX_DEPTH);
    T::deserialize(&mut de).map_err(|e| ValueError::Decode {
        key: key.to_owned(),
        message: without_quoted_data(&e.to_string(), std::any::type_name::<T>()),
    })
}

/// serde's messages quote the offending value (`invalid type: string "…"`,
/// ``unknown variant `…` ``, ``invalid value: integer `…` ``): keep what
/// precedes the first quote and name the expected type instead, so session
/// data never reaches an error message or a log.
fn without_quoted_data(message: &str, expected: &str) -> String {
    match message.find(['"', '`']) {
        Some(at) => format!(
            "{}, expected {expected}",
            message[..at].trim_end().trim_end_matches(':')
        ),
        None => message.to_owned(),
    }
}

/// Bytes stored as msgpack `bin` (Python `bytes`), not as an array of integers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

/// msgpack's timestamp extension type.
const TIMESTAMP_EXT: i8 = -1;

/// A point in time stored as the msgpack timestamp extension (ext −1), which is
/// what msgspec writes for a timezone-aware Python `datetime`. In JSON it is
/// RFC 3339 text, and it also reads back from such text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// The msgpack timestamp payload in its smallest form, as msgspec picks it.
    pub fn to_ext_payload(&self) -> Vec<u8> {
        let secs = self.0.unix_timestamp();
        let nanos = self.0.nanosecond();
        if (0..(1i64 << 34)).contains(&secs) {
            if nanos == 0 && secs <= i64::from(u32::MAX) {
                // Range checked just above.
                return (secs as u32).to_be_bytes().to_vec();
            }
            let packed = (u64::from(nanos) << 34) | secs as u64;
            return packed.to_be_bytes().to_vec();
        }
        let mut out = nanos.to_be_bytes().to_vec();
        out.extend_from_slice(&secs.to_be_bytes());
        out
    }

    /// Reads the 4-, 8- or 12-byte timestamp payload.
    pub fn from_ext_payload(payload: &[u8]) -> Option<Self> {
        let (secs, nanos) = match payload.len() {
            4 => (i64::from(u32::from_be_bytes(payload.try_into().ok()?)), 0),
            8 => {
                let packed = u64::from_be_bytes(payload.try_into().ok()?);
                ((packed & ((1 << 34) - 1)) as i64, (packed >> 34) as u32)
            }
            12 => (
                i64::from_be_bytes(payload[4..].try_into().ok()?),
                u32::from_be_bytes(payload[..4].try_into().ok()?),
            ),
            _ => return None,
        };
        let base = OffsetDateTime::from_unix_timestamp(secs).ok()?;
        base.replace_nanosecond(nanos).ok().map(Self)
    }

    /// The instant `time` names, in UTC.
    pub fn from_system_time(time: std::time::SystemTime) -> Self {
        Self(OffsetDateTime::from(time))
    }

    /// RFC 3339 in msgspec's JSON form: UTC with `Z`, microseconds when non-zero.
    pub fn to_rfc3339(&self) -> String {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        let micros = utc.microsecond();
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        );
        if micros == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{micros:06}Z")
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let payload = Bytes(self.to_ext_payload());
        serializer
            .serialize_newtype_struct(rmpv::MSGPACK_EXT_STRUCT_NAME, &(TIMESTAMP_EXT, payload))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl<'de> Visitor<'de> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a msgpack timestamp or RFC 3339 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                OffsetDateTime::parse(v, &Rfc3339)
                    .map(Timestamp)
                    .map_err(|e| E::custom(format!("not RFC 3339: {e}")))
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self, d: D,
            ) -> Result<Timestamp, D::Error> {
                let (tag, payload): (i8, Bytes) = Deserialize::deserialize(d)?;
                if tag != TIMESTAMP_EXT {
                    return Err(de::Error::custom(format!(
                        "ext type {tag} is not a timestamp"
                    )));
                }
                Timestamp::from_ext_payload(&payload.0)
                    .ok_or_else(|| de::Error::custom("malformed msgpack timestamp"))
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_msgpack_bin() {
        let raw = to_msgpack("b", &Bytes(vec![0, 1, 0xfe, 0xff])).unwrap();
        assert_eq!(raw, [0xc4, 4, 0, 1, 0xfe, 0xff]);
        assert_eq!(
            from_msgpack::<Bytes>("b", &raw).unwrap().0,
            [0, 1, 0xfe, 0xff]
        );
    }

    #[test]
    fn timestamp_matches_msgspec_fixture_bytes() {
        // From binary_and_time.msgpack: 2026-11-25T12:30:45.123456Z.
        let fixture = [0xd7, 0xff, 0x1d, 0x6f, 0x28, 0x00, 0x6b, 0x06, 0xd4, 0xf5];
        let ts: Timestamp = from_msgpack("when", &fixture).unwrap();
        assert_eq!(ts.to_rfc3339(), "2026-11-25T12:30:45.123456Z");
        assert_eq!(to_msgpack("when", &ts).unwrap(), fixture);
    }

    #[test]
    fn decode_errors_never_quote_the_stored_value() {
        // Regression (tests/security.rs): serde's messages carried the value
        // into the typed view's warning log.
        #[derive(Debug, Deserialize)]
        enum Role {
            Admin,
        }
        let text = to_msgpack("k", "secret-data-1").unwrap();
        let big = to_msgpack("k", &73_219_u32).unwrap();
        let errors = [
            from_msgpack::<Role>("k", &text).unwrap_err(),
            from_msgpack::<u8>("k", &big).unwrap_err(),
            from_msgpack::<bool>("k", &text).unwrap_err(),
            from_msgpack::<Vec<u8>>("k", &text).unwrap_err(),
        ];
        for error in errors {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("secret-data"), "{shown}");
            assert!(!shown.contains("73219"), "{shown}");
            assert!(shown.contains("session key \"k\""), "{shown}");
        }
        let error = from_msgpack::<Role>("k", &text).unwrap_err().to_string();
        assert!(error.contains("unknown variant, expected "), "{error}");
        assert!(error.ends_with("::Role"), "{error}");
        assert!(matches!(
            from_msgpack::<Role>("k", &to_msgpack("k", "Admin").unwrap()),
            Ok(Role::Admin)
        ));
    }

    #[test]
    fn timestamp_forms_round_trip() {
        for secs in [0i64, 1_700_000_000, 1 << 35, -5] {
            let ts = Timestamp(OffsetDateTime::from_unix_timestamp(secs).unwrap());
            let raw = to_msgpack("t", &ts).unwrap();
            assert_eq!(from_msgpack::<Timestamp>("t", &raw).unwrap(), ts);
        }
        let parsed: Timestamp =
            from_msgpack("t", &to_msgpack("t", "2026-11-25T12:30:45Z").unwrap()).unwrap();
        assert_eq!(parsed.to_rfc3339(), "2026-11-25T12:30:45Z");
    }
}
