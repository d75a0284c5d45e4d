//! The owner index (design §12): two fields of the session document itself,
//! `owner` (the owner's text) and `owner_created` (a BSON datetime, when the
//! owner logged in), with the sparse index `owner_1` on `owner`.
//!
//! - **add**: `update_one({id}, {$set: {owner, owner_created}})`, without
//!   upsert: a record that is gone has nothing to index.
//! - **remove**: `update_one({id, owner}, {$unset: {owner, owner_created}})`:
//!   only the owner's own mark is taken off.
//! - **list**: `find({owner, expiration > now})`; `expires` is the
//!   document's `expiration`. The index lives and dies with the document, so
//!   there is nothing to prune: a deleted record takes its mark along, and
//!   the expiration filter hides a document the TTL monitor (about once a
//!   minute) has not removed yet.
//!
//! Every write to a session document, ours and Flask-Session's, is a `$set`
//! of `id`, `val` and `expiration` (or of fewer), never a replacement, so it
//! keeps both fields: a login survives every ordinary save. One exception:
//! Flask-Session on pymongo 3 (before 4.0) saves with the deprecated
//! `update(filter, document, upsert)`, which replaces the document and drops
//! the fields, so that session leaves its owner's listing (and "log out
//! everywhere") until it is indexed again. A Flask app sharing the
//! collection needs pymongo 4 or later.

use std::future::IntoFuture;
use std::time::SystemTime;

use mongodb::bson::{doc, Bson, DateTime};

use super::MongoStore;
use crate::store::{IndexedSession, StoreResult};

/// The field holding the owner.
pub const OWNER_FIELD: &str = "owner";
/// The field holding when the owner logged in.
pub const OWNER_CREATED_FIELD: &str = "owner_created";

impl MongoStore {
    /// See [`crate::store::SessionStore::add_owned`].
    pub(super) async fn index_add(
        &self, owner: &str, key: &str, created: SystemTime,
    ) -> StoreResult<()> {
        let update = doc! { "$set": {
            OWNER_FIELD: owner,
            OWNER_CREATED_FIELD: DateTime::from_system_time(created),
        } };
        let add = self
            .inner
            .collection
            .update_one(doc! { "id": key }, update)
            .into_future();
        self.run("index", add).await.map(drop)
    }

    /// See [`crate::store::SessionStore::remove_owned`].
    pub(super) async fn index_remove(&self, owner: &str, key: &str) -> StoreResult<()> {
        let update = doc! { "$unset": { OWNER_FIELD: "", OWNER_CREATED_FIELD: "" } };
        let remove = self
            .inner
            .collection
            .update_one(doc! { "id": key, OWNER_FIELD: owner }, update)
            .into_future();
        self.run("index", remove).await.map(drop)
    }

    /// See [`crate::store::SessionStore::list_owned`].
    pub(super) async fn index_list(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        let filter = doc! { OWNER_FIELD: owner, "expiration": { "$gt": DateTime::now() } };
        let projection = doc! { "_id": 0, "id": 1, OWNER_CREATED_FIELD: 1, "expiration": 1 };
        let list = async {
            let mut cursor = self
                .inner
                .collection
                .find(filter)
                .projection(projection)
                .await?;
            let mut listed = Vec::new();
            while cursor.advance().await? {
                let document = cursor.deserialize_current()?;
                // Written by this store as a string; anything else is not a
                // session key.
                let Some(Bson::String(key)) = document.get("id") else {
                    continue;
                };
                let time = |field: &str| match document.get(field) {
                    Some(Bson::DateTime(at)) => Some(at.to_system_time()),
                    _ => None,
                };
                listed.push(IndexedSession::new(
                    key.clone(),
                    time(OWNER_CREATED_FIELD),
                    time("expiration"),
                ));
            }
            Ok(listed)
        };
        self.run("index", list).await
    }
}
