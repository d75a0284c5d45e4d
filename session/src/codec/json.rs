//! The compact JSON session encoding, as msgspec writes it. Values are converted
//! to msgpack on the way in and back on the way out: bytes become standard
//! base64 text and timestamps RFC 3339 text, as in Python.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Number, Value as Json};

use super::DecodeError;
use crate::map::SessionMap;
use crate::value::{Timestamp, MAX_DEPTH};

/// Decodes a JSON object into the session map.
///
/// # Errors
///
/// [`DecodeError`] when the bytes are not a JSON object of string keys, or are
/// too deep.
pub fn decode(buf: &[u8]) -> Result<SessionMap, DecodeError> {
    // serde_json refuses nesting deeper than 128 by itself; check ours too.
    let object: Map<String, Json> = serde_json::from_slice(buf).map_err(describe)?;
    let mut map = SessionMap::new();
    for (key, value) in object {
        if depth_of(&value) > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let raw = rmp_serde::to_vec(&value).map_err(|e| DecodeError::Json(e.to_string()))?;
        map.insert_raw(key, raw);
    }
    Ok(map)
}

/// What is wrong with a stored value, without quoting it: serde_json's
/// type errors quote the value (`invalid type: string "…"`), which is session
/// data, and a decode failure is logged. Syntax and end-of-input messages
/// quote nothing and are kept.
fn describe(error: serde_json::Error) -> DecodeError {
    DecodeError::Json(match error.classify() {
        serde_json::error::Category::Data => format!(
            "not a map of string keys at line {} column {}",
            error.line(),
            error.column()
        ),
        _ => error.to_string(),
    })
}

/// Encodes the map as one compact JSON object.
///
/// # Errors
///
/// [`EncodeJsonError`] when a value has no JSON form.
pub fn encode(map: &SessionMap) -> Result<Vec<u8>, EncodeJsonError> {
    let mut object = Map::with_capacity(map.len());
    for (key, raw) in map.iter_raw() {
        object.insert(key.to_owned(), value_to_json(key, raw)?);
    }
    serde_json::to_vec(&object).map_err(|e| EncodeJsonError(e.to_string()))
}

/// The JSON form of one msgpack value, as the JSON encoding would write it:
/// binary as base64 text, timestamps as RFC 3339 text.
///
/// # Errors
///
/// [`EncodeJsonError`] when the value has no JSON form (an extension type other than
/// the timestamp).
pub fn value_to_json(key: &str, raw: &[u8]) -> Result<Json, EncodeJsonError> {
    let value = rmpv::decode::read_value_with_max_depth(&mut &raw[..], RMPV_DEPTH)
        .map_err(|e| EncodeJsonError(format!("key {key:?}: {e}")))?;
    to_json(key, value)
}

/// The depth limit to hand rmpv so that it reads every value the decoders
/// accept ([`MAX_DEPTH`] values deep). rmpv spends two levels per container
/// (the value and its body) and up to three on a leaf (a str, bin or ext
/// body), so `MAX_DEPTH` alone refused values nested more than ~31 deep that
/// the msgpack and JSON decoders had accepted: such a session loaded, but
/// `get_json` failed and rewriting it as JSON was an error (found by the
/// `decode` fuzz target).
const RMPV_DEPTH: usize = 2 * MAX_DEPTH + 1;

/// A value has no JSON form.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the session as JSON: {0}")]
pub struct EncodeJsonError(String);

fn to_json(key: &str, value: rmpv::Value) -> Result<Json, EncodeJsonError> {
    use rmpv::Value as Mp;
    Ok(match value {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::from(u),
            (None, Some(n)) => Json::from(n),
            (None, None) => Json::Null,
        },
        // msgspec writes NaN and infinities as null.
        Mp::F32(f) => Number::from_f64(f64::from(f)).map_or(Json::Null, Json::Number),
        Mp::F64(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Mp::String(s) => match s.into_str() {
            Some(s) => Json::String(s),
            None => return Err(EncodeJsonError(format!("key {key:?} holds invalid UTF-8"))),
        },
        Mp::Binary(b) => Json::String(STANDARD.encode(b)),
        Mp::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|v| to_json(key, v))
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(entries) => {
            let mut object = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let name = match k {
                    Mp::String(s) => s.into_str().unwrap_or_default(),
                    other => other.to_string(),
                };
                object.insert(name, to_json(key, v)?);
            }
            Json::Object(object)
        }
        Mp::Ext(-1, payload) => match Timestamp::from_ext_payload(&payload) {
            Some(ts) => Json::String(ts.to_rfc3339()),
            None => {
                return Err(EncodeJsonError(format!(
                    "key {key:?} holds a malformed timestamp"
                )))
            }
        },
        Mp::Ext(tag, _) => {
            return Err(EncodeJsonError(format!(
                "key {key:?} holds msgpack extension type {tag}, which JSON cannot carry"
            )))
        }
    })
}

fn depth_of(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        Json::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        _ => 1,
    }
}
