//! Conditional writes: `update_one` filtered on the id, a live expiration and
//! the value loaded, without upsert (one round trip when nothing conflicts,
//! a read only when nothing matched); `insert_one` for a new record, which
//! the unique index on `id` refuses when the key exists. Driver errors
//! reach logs without the duplicate key they quote.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use mongodb::bson::{doc, Bson, DateTime};
use mongodb::error::Error as MongoError;

use super::{binary, expiration_after, is_duplicate_key, live, value_of, MongoStore};
use crate::store::{SessionStore, StoreResult, WriteOutcome};

/// A driver error as a store error's source. The message of a duplicate-key
/// error is trimmed: the driver quotes the duplicate key, which holds the raw
/// sid, a bearer token that must not reach a log.
pub(super) struct DriverError(pub(super) MongoError);

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_duplicate_key(&self.0) {
            f.write_str("E11000 duplicate key on the session id index")
        } else {
            fmt::Display::fmt(&self.0, f)
        }
    }
}

impl fmt::Debug for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DriverError({self})")
    }
}

impl std::error::Error for DriverError {}

impl MongoStore {
    /// `update_one` filtered on the id, a live expiration and the value
    /// loaded, without upsert; only when nothing matched, a read.
    pub(super) async fn update_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let loaded = Bson::Binary(binary(expected));
        if self.replace_if(key, loaded, value, ttl).await? {
            return Ok(WriteOutcome::Saved);
        }
        let find = self.inner.collection.find_one(live(key, DateTime::now()));
        let Some(document) = self.run("save_if_unchanged", find.into_future()).await? else {
            return Ok(WriteOutcome::Gone);
        };
        let current = value_of(&document);
        if current != expected {
            return Ok(WriteOutcome::Changed(current));
        }
        // The same bytes under another BSON type (a string, another binary
        // subtype): compare with the value exactly as stored.
        let stored = document.get("val").cloned().unwrap_or(Bson::Null);
        if self.replace_if(key, stored, value, ttl).await? {
            return Ok(WriteOutcome::Saved);
        }
        Ok(self
            .load(key)
            .await?
            .map_or(WriteOutcome::Gone, WriteOutcome::Changed))
    }

    /// `insert_one`, which the unique index on `id` refuses when the key
    /// exists.
    pub(super) async fn insert_if_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let document = doc! {
            "id": key,
            "val": binary(value),
            "expiration": expiration_after(ttl),
        };
        let insert = async {
            match self.inner.collection.insert_one(document).await {
                Ok(_) => Ok(true),
                Err(error) if is_duplicate_key(&error) => Ok(false),
                Err(error) => Err(error),
            }
        };
        if self.run("insert_new", insert).await? {
            return Ok(WriteOutcome::Saved);
        }
        Ok(self
            .load(key)
            .await?
            .map_or(WriteOutcome::Gone, WriteOutcome::Changed))
    }

    /// Replaces the live document of `key` whose `val` is `loaded`; whether
    /// one matched.
    async fn replace_if(
        &self, key: &str, loaded: Bson, value: &[u8], ttl: Duration,
    ) -> StoreResult<bool> {
        let mut filter = live(key, DateTime::now());
        filter.insert("val", loaded);
        let update = doc! { "$set": { "val": binary(value), "expiration": expiration_after(ttl) } };
        let replace = self
            .inner
            .collection
            .update_one(filter, update)
            .into_future();
        let done = self.run("save_if_unchanged", replace).await?;
        Ok(done.matched_count > 0)
    }
}
