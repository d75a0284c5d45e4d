//! Typed views of the keys Flask's ecosystem writes, so a Rust handler and a
//! Flask app sharing a store can log a user in or flash a message for each
//! other.
//!
//! - [`FlaskLogin`]: Flask-Login's `_user_id`, `_fresh` and `_id`.
//! - [`flash`] / [`take_flashes`]: Flask's `flash()` and
//!   `get_flashed_messages(with_categories=True)` over `_flashes`, a list of
//!   `[category, message]` pairs.

use crate::encoded_fields::EncodedFields;
use crate::lifecycle::Session;
use crate::map::SessionMap;
use crate::typed::{read_field, SessionData};
use crate::value::ValueError;

/// The session keys Flask-Login reads and writes. Use it as a typed session:
/// `session.typed::<FlaskLogin>()`, or the framework's typed guard/extractor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlaskLogin {
    /// `_user_id`: the logged-in user's id as text (`str(user.get_id())`).
    pub user_id: Option<String>,
    /// `_fresh`: true when the login was not restored from a remember cookie.
    pub fresh: Option<bool>,
    /// `_id`: Flask-Login's session identifier (a hash of the client's address
    /// and user agent), when session protection is on.
    pub id: Option<String>,
}

impl FlaskLogin {
    /// The key of [`FlaskLogin::user_id`].
    pub const KEY_USER_ID: &'static str = "_user_id";
    /// The key of [`FlaskLogin::fresh`].
    pub const KEY_FRESH: &'static str = "_fresh";
    /// The key of [`FlaskLogin::id`].
    pub const KEY_ID: &'static str = "_id";

    /// Removes Flask-Login's keys and keeps the rest of the session, as
    /// `logout_user()` does: the session and its sid live on. Prefer
    /// [`Typed::logout`](crate::Typed::logout), which ends the session.
    ///
    /// To log a user in, call [`Typed::login`](crate::Typed::login) on the
    /// view (or [`Session::login`]): it writes `_user_id` and `_fresh` as
    /// `login_user` does, and also moves the session to a new sid and
    /// indexes it under its owner. With `owner_key` other than `_user_id`,
    /// that owner is not Flask-Login's user.
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    /// Whether a user is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.user_id.is_some()
    }
}

impl SessionData for FlaskLogin {
    const KEYS: &'static [&'static str] = &[Self::KEY_USER_ID, Self::KEY_FRESH, Self::KEY_ID];

    fn from_map(map: &SessionMap) -> Self {
        Self {
            user_id: read_field(map, Self::KEY_USER_ID, || None),
            fresh: read_field(map, Self::KEY_FRESH, || None),
            id: read_field(map, Self::KEY_ID, || None),
        }
    }

    fn encode_fields(&self, out: &mut EncodedFields) -> Result<(), ValueError> {
        out.push(Self::KEY_USER_ID, &self.user_id)?;
        out.push(Self::KEY_FRESH, &self.fresh)?;
        out.push(Self::KEY_ID, &self.id)
    }
}

/// The key Flask keeps flashed messages under.
pub const FLASHES_KEY: &str = "_flashes";

/// One flashed message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    /// The category, `"message"` by default in Flask.
    pub category: String,
    /// The text.
    pub message: String,
}

/// Flask stores a flash as a two-item array.
type FlashPair = (String, String);

/// Queues a message for the next page, as Flask's `flash(message, category)`.
/// An `_flashes` value of another shape is an error, never overwritten.
///
/// # Errors
///
/// [`ValueError`] when the stored `_flashes` is not a list Flask wrote, or the
/// message cannot be encoded.
pub fn flash(session: &Session, category: &str, message: &str) -> Result<(), ValueError> {
    let mut flashes: Vec<FlashPair> = session.get(FLASHES_KEY)?.unwrap_or_default();
    flashes.push((category.to_owned(), message.to_owned()));
    session.insert(FLASHES_KEY, &flashes)
}

/// Takes every queued message, as `get_flashed_messages(with_categories=True)`:
/// they are removed from the session.
///
/// # Errors
///
/// [`ValueError`] when the stored `_flashes` is not a list of `[category,
/// message]` pairs.
pub fn take_flashes(session: &Session) -> Result<Vec<Flash>, ValueError> {
    let Some(flashes) = session.get::<Vec<FlashPair>>(FLASHES_KEY)? else {
        return Ok(Vec::new());
    };
    session.remove(FLASHES_KEY);
    Ok(flashes
        .into_iter()
        .map(|(category, message)| Flash { category, message })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::codec::{Codec, SerializationFormat};
    use crate::store::memory::MemoryStore;
    use crate::store::SaveHint;
    use crate::{SessionManager, SessionStore, Settings};

    const FLASK_KEYS: &[u8] = include_bytes!("../tests/fixtures/flask_keys.msgpack");

    async fn session_over(bytes: &[u8]) -> (Session, crate::RequestSession, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        let sid = "F".repeat(43);
        store
            .save(
                &format!("session:{sid}"),
                bytes,
                std::time::Duration::from_secs(60),
                SaveHint::New,
            )
            .await
            .unwrap();
        let manager = SessionManager::new(Settings::default(), store.clone()).unwrap();
        let cookie = format!("session={sid}");
        let request = manager.open([cookie.as_bytes()]);
        (request.load().await.unwrap(), request, store)
    }

    #[tokio::test]
    async fn reads_flask_login_and_flashes_written_by_python() {
        let (session, _, _) = session_over(FLASK_KEYS).await;
        let login = session.typed::<FlaskLogin>();
        assert_eq!(login.user_id.as_deref(), Some("u-17"));
        assert_eq!(login.fresh, Some(true));
        assert_eq!(login.id.as_ref().map(String::len), Some(128));
        drop(login);
        let flashes = take_flashes(&session).unwrap();
        assert_eq!(
            flashes,
            [
                Flash {
                    category: "info".into(),
                    message: "saved".into()
                },
                Flash {
                    category: "error".into(),
                    message: "bad".into()
                },
            ]
        );
        assert!(!session.contains_key(FLASHES_KEY));
        assert!(take_flashes(&session).unwrap().is_empty());
    }

    #[tokio::test]
    async fn flashing_writes_flasks_pair_format() {
        let (session, _, _) = session_over(&[0x80]).await;
        flash(&session, "info", "saved").unwrap();
        flash(&session, "error", "bad").unwrap();
        let map = session.snapshot();
        let codec = Codec::new(SerializationFormat::MsgPack, 1 << 16);
        let (python, _) = codec.decode(FLASK_KEYS).unwrap();
        assert_eq!(map.get_raw(FLASHES_KEY), python.get_raw(FLASHES_KEY));
    }

    #[tokio::test]
    async fn logout_removes_the_keys_and_leaves_the_rest() {
        let (session, request, store) = session_over(FLASK_KEYS).await;
        session.typed::<FlaskLogin>().forget();
        request.finish(200).await.unwrap();
        let key = format!("session:{}", "F".repeat(43));
        let codec = Codec::new(SerializationFormat::MsgPack, 1 << 16);
        let (after, _) = codec.decode(&store.get_raw(&key).unwrap()).unwrap();
        let (before, _) = codec.decode(FLASK_KEYS).unwrap();
        for key in ["_user_id", "_fresh", "_id"] {
            assert!(!after.contains_key(key), "{key}");
        }
        for key in ["_permanent", "_flashes", "csrf_token"] {
            assert_eq!(after.get_raw(key), before.get_raw(key), "{key}");
        }
    }

    #[tokio::test]
    async fn an_unexpected_flashes_value_is_an_error_not_overwritten() {
        let mut map = SessionMap::new();
        map.insert(FLASHES_KEY, "not a list").unwrap();
        let bytes = Codec::new(SerializationFormat::MsgPack, 1 << 16)
            .encode(&map)
            .unwrap();
        let (session, _, _) = session_over(&bytes).await;
        assert!(flash(&session, "info", "x").is_err());
        assert_eq!(
            session.get::<String>(FLASHES_KEY).unwrap().as_deref(),
            Some("not a list")
        );
    }
}
