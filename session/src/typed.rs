//! Typed sessions: a plain struct whose fields are keys of the session map.
//!
//! `#[derive(SessionData)]` implements [`SessionData`]; [`Typed`] is the view a
//! handler holds. The view reads only its own keys, and at write-back compares
//! each field's encoding with its encoding just after load, so touching a field
//! without changing it writes nothing.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;

use crate::id::RandomSourceError;
use crate::lifecycle::Session;
use crate::map::SessionMap;
use crate::owner::{LoginError, SessionHandle};
use crate::value::ValueError;

use crate::encoded_fields::EncodedFields;

/// A struct whose fields are session keys. Derive it with
/// `#[derive(SessionData)]` rather than implementing it by hand.
pub trait SessionData: Sized + Send + 'static {
    /// The session keys this type owns, in field order.
    const KEYS: &'static [&'static str];

    /// Reads the owned keys from the map. A missing key, or one holding a value
    /// of the wrong type, becomes the field's default (the latter with a
    /// warning): bad data never locks a user out.
    fn from_map(map: &SessionMap) -> Self;

    /// Appends each owned key's encoded value to `out`, in [`Self::KEYS`]
    /// order (generated code only).
    fn encode_fields(&self, out: &mut EncodedFields) -> Result<(), ValueError>;

    /// Each owned key's encoded value, aligned with [`Self::KEYS`]; `None`
    /// removes the key. For tests and tools that seed a store.
    fn to_fields(&self) -> Result<Vec<Option<Vec<u8>>>, ValueError> {
        let mut out = EncodedFields::default();
        self.encode_fields(&mut out)?;
        Ok(out.iter().map(|field| field.map(<[u8]>::to_vec)).collect())
    }
}

/// Reads one field for generated code (reached through `__private`): the
/// stored value, or `default()` when
/// the key is missing or holds another type.
#[doc(hidden)]
pub fn read_field<F: DeserializeOwned>(
    map: &SessionMap, key: &str, default: impl FnOnce() -> F,
) -> F {
    match map.get::<F>(key) {
        Ok(Some(value)) => value,
        Ok(None) => default(),
        Err(error) => {
            tracing::warn!(key, %error, "session value has an unexpected type; using the field's default");
            default()
        }
    }
}

/// A typed view of the request's session, with `Deref`/`DerefMut` to `T`.
///
/// Changes are written back into the shared map when the view is dropped, and
/// encoded for the store at finish.
pub struct Typed<T: SessionData> {
    value: T,
    /// Each field's encoding as of the last write-back (at first, just after
    /// load), taken at the first mutable borrow: a view only read through
    /// `Deref` never encodes anything.
    baseline: Option<EncodedFields>,
    session: Session,
}

impl<T: SessionData> Typed<T> {
    pub(crate) fn load(session: Session) -> Self {
        let value = T::from_map(&session.lock().map);
        Self {
            value,
            baseline: None,
            session,
        }
    }

    /// Writes changed fields into the session map now, rather than at drop.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when a field cannot be encoded; nothing is written back
    /// then.
    pub fn sync(&mut self) -> Result<(), ValueError> {
        let Some(fields) = &mut self.baseline else {
            return Ok(()); // never mutably borrowed: nothing can have changed
        };
        // The new encoding goes after the baseline in the same buffer.
        let before_len = fields.byte_len();
        if let Err(error) = self.value.encode_fields(fields) {
            fields.truncate(before_len);
            return Err(error);
        }
        let (before, after) = fields.split_at(before_len);
        self.session.write_fields(T::KEYS, before, after);
        fields.remove_front(before_len);
        Ok(())
    }

    /// The untyped session this view belongs to.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// [`Session::login`], through this view: its changes are written back
    /// first, and it reads the session again afterwards (a `T` that holds
    /// the owner's key sees the new owner).
    ///
    /// # Errors
    ///
    /// As [`Session::login`], and [`LoginError::Value`] when this view's
    /// changes cannot be written back; the session is then unchanged.
    pub fn login(&mut self, owner: &str) -> Result<(), LoginError> {
        self.sync()?;
        self.session.login(owner)?;
        self.reload();
        Ok(())
    }

    /// [`Session::logout`], through this view, which then holds `T` as an
    /// empty session gives it.
    ///
    /// # Errors
    ///
    /// As [`Session::logout`].
    pub fn logout(&mut self) -> Result<(), RandomSourceError> {
        let ended = self.session.logout();
        self.reload();
        ended
    }

    /// [`Session::owner`]: the logged-in owner, if any.
    pub fn owner(&self) -> Option<String> {
        self.session.owner()
    }

    /// [`Session::handle`]: this session's opaque handle.
    pub fn handle(&self) -> SessionHandle {
        self.session.handle()
    }

    /// Reads `T` from the map again, dropping the baseline: nothing of the
    /// old value is written back.
    fn reload(&mut self) {
        self.value = T::from_map(&self.session.lock().map);
        if let Some(fields) = self.baseline.take() {
            fields.recycle();
        }
    }
}

/// The typed-view plumbing of the untyped handle.
impl Session {
    /// A typed view of the keys `T` owns. Its changes are written back into
    /// this session's map when it is dropped (or by [`Typed::sync`]).
    pub fn typed<T: SessionData>(&self) -> Typed<T> {
        Typed::load(self.clone())
    }

    /// [`Self::typed`], consuming this handle.
    pub fn into_typed<T: SessionData>(self) -> Typed<T> {
        Typed::load(self)
    }

    /// Applies the changed fields of a typed view: only keys whose encoding
    /// differs from `before` are written, so a value `T` could not read is never
    /// overwritten just because it was read. `None` is an absent key.
    pub(crate) fn write_fields<'a>(
        &self, keys: &[&'static str], before: impl Iterator<Item = Option<&'a [u8]>>,
        after: impl Iterator<Item = Option<&'a [u8]>>,
    ) {
        let mut state = self.lock();
        for ((key, old), new) in keys.iter().zip(before).zip(after) {
            if old == new {
                continue;
            }
            state.touched = true;
            match new {
                Some(raw) => state.map.insert_static(key, raw),
                None => {
                    state.map.remove(key);
                }
            }
        }
    }

    pub(crate) fn record_error(&self, error: ValueError) {
        self.lock().pending_error.get_or_insert(error);
    }
}

impl<T: SessionData> Deref for Typed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: SessionData> DerefMut for Typed<T> {
    fn deref_mut(&mut self) -> &mut T {
        if self.baseline.is_none() {
            // Still unchanged here: the caller mutates after this returns.
            let mut fields = EncodedFields::default();
            if let Err(error) = self.value.encode_fields(&mut fields) {
                // Without a baseline nothing compares as changed: nothing is
                // written back, and finish reports the error.
                fields.truncate(0);
                self.session.record_error(error);
            }
            self.baseline = Some(fields);
        }
        &mut self.value
    }
}

impl<T: SessionData> Drop for Typed<T> {
    fn drop(&mut self) {
        if let Err(error) = self.sync() {
            self.session.record_error(error);
        }
        if let Some(fields) = self.baseline.take() {
            fields.recycle();
        }
    }
}

impl<T: SessionData + std::fmt::Debug> std::fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Typed").field(&self.value).finish()
    }
}
