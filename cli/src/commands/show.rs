//! `show <sid>`: one session as JSON. The sid itself is never printed.

use serde_json::{json, Map, Value};
use session::codec::value_to_json;
use session::{SessionId, SessionMap};
use session_config::Settings;

use crate::failure::Failure;
use crate::report::Report;
use crate::store;

/// Loads the session a sid or a cookie value names, without sliding its expiry.
pub async fn run(settings: &Settings, sid: &str) -> Result<Report, Failure> {
    let (built, manager) = store::manager(settings).await?;
    // A raw sid has no `.`; anything else is taken as a (signed) cookie value.
    let loaded = if SessionId::parse(sid).is_some() {
        manager.load_by_id(sid).await
    } else {
        manager.load_by_cookie(sid).await
    };
    let map = loaded
        .map_err(|error| Failure::Backend(format!("{} at {}: {error}", built.store.backend(), built.location)))?
        .ok_or_else(|| {
            Failure::NotFound(format!(
                "no such session in the {} store at {} (the id is unknown, expired, badly signed or not a session id)",
                built.store.backend(),
                built.location
            ))
        })?;
    let session = as_json(&map)?;
    Ok(Report {
        text: format!(
            "{}\n",
            serde_json::to_string_pretty(&session).unwrap_or_default()
        ),
        json: json!({ "found": true, "session": session }),
    })
}

/// The session's keys in stored order, each value as the JSON encoding
/// writes it: bytes as base64, timestamps as RFC 3339.
fn as_json(map: &SessionMap) -> Result<Value, Failure> {
    let mut object = Map::new();
    for (key, raw) in map.iter_raw() {
        let value = value_to_json(key, raw)
            .map_err(|error| Failure::Backend(format!("the session cannot be shown: {error}")))?;
        object.insert(key.to_owned(), value);
    }
    Ok(Value::Object(object))
}
