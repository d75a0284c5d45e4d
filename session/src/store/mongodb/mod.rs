//! Sessions as documents in a MongoDB collection (`SESSION_TYPE = mongodb`),
//! in Flask-Session 0.8's layout, so a Flask app and a Rust service can share
//! one collection.
//!
//! # The document
//!
//! ```text
//! { id: "<key_prefix><sid>", val: BinData(0, <encoded session>), expiration: Date(now + lifetime) }
//! ```
//!
//! and, for a session a user logged in to, the owner index's two fields,
//! `owner` and `owner_created` (see `owners.rs`): every write here and
//! Flask-Session's own is a `$set`, never a replacement, so they survive.
//!
//! `expiration` is a BSON UTC datetime, the app's clock plus the lifetime, as
//! Flask writes it (a naive UTC `datetime`). A save is
//! `update_one({id}, {$set: {id, val, expiration}}, upsert)`; a delete is
//! `delete_one({id})`.
//!
//! # Indexes
//!
//! Start-up creates, idempotently, the TTL index `expiration_1`
//! (`expireAfterSeconds: 0`, the one Flask-Session makes), a unique index
//! `id_1` on `id` (Flask-Session has none, so its every lookup scans the
//! collection) and a sparse index `owner_1` on `owner`, for listing a user's
//! sessions (an owner of up to 1,024 bytes needs MongoDB 4.2 or later, which
//! has no index key limit). When an index cannot be created because an incompatible one
//! exists (another TTL, duplicate `id`s left by Flask, no privilege to create
//! indexes), start-up logs a warning and goes on; only an unreachable server or
//! a failed authentication stops it.
//!
//! # Reads and sliding expiry
//!
//! The TTL monitor runs about once a minute, so every read also filters on
//! `expiration > now`: an expired document is never served, whether or not it
//! has been removed yet.
//!
//! A touch is a write on MongoDB, so [`SessionStore::load_and_touch`] moves
//! `expiration` only once no more than `refresh_threshold` of the lifetime
//! remains (by default, after a fifth of it has passed). It is still **one**
//! round trip either way: a `findOneAndUpdate` on `{id, expiration > now}`
//! whose update is a pipeline, `$set: {expiration: {$cond: [expiration <
//! now + threshold × lifetime, now + lifetime, $expiration]}}`. While most of
//! the lifetime remains, the pipeline leaves the document as it is, which the
//! server treats as a no-op update (no oplog entry, nothing replicated).
//!
//! What it costs: update pipelines need MongoDB 4.2 or later, and a
//! `findOneAndUpdate` always runs on the primary, whatever the client's read
//! preference, so session reads do not spread over secondaries. With
//! `refresh_each_request = false` reads are plain `find`s.
//!
//! # Timeouts and pool
//!
//! A client built from the settings gets `connect_timeout` as both its connect
//! and server-selection timeout, and `pool_size` as its maximum pool size,
//! unless the URI sets them itself (`connectTimeoutMS`,
//! `serverSelectionTimeoutMS`, `maxPoolSize`): the URI is the more specific.
//! Every operation is also bounded by `operation_timeout`, so a dead server or
//! an exhausted pool fails the request fast with a 503.
//!
//! The `session` crate builds the driver with TLS (rustls) but without SRV
//! look-ups: an app that uses `mongodb+srv://` URIs enables the driver's
//! `dns-resolver` feature on its own `mongodb` dependency (cargo unifies the
//! features).

mod conditional;
mod owners;
mod ping;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, DateTime, Document};
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use session_config::Settings;

use self::conditional::DriverError;
pub use self::owners::{OWNER_CREATED_FIELD, OWNER_FIELD};

use super::support::{run, within};
use super::{
    BoxError, BuildError, IndexedSession, PingInfo, SaveHint, SessionStore, StoreError,
    StoreResult, Timeouts, WriteOutcome,
};

/// The `mongodb` driver this store is built on, so an app can build the
/// [`Client`] it hands over, or inspect the collection, with the same version.
pub use ::mongodb;

const BACKEND: &str = "mongodb";

/// The TTL index Flask-Session creates.
pub const TTL_INDEX: &str = "expiration_1";
/// The unique index on `id` this store adds.
pub const ID_INDEX: &str = "id_1";
/// The sparse index on [`OWNER_FIELD`] this store adds, for the owner index.
pub const OWNER_INDEX: &str = "owner_1";

/// How long a start-up index creation may take beyond the connect timeout:
/// building the unique index on a large collection that Flask filled takes a
/// while.
const INDEX_BUILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Far enough in the future for any lifetime that overflows the clock.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Server error codes that mean "no usable primary right now" (a failover, a
/// shutdown, a network failure seen by the server): 503, like a network error.
const UNAVAILABLE_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// Sessions in a MongoDB collection. Cloning shares the client and its pool.
#[derive(Clone)]
pub struct MongoStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// The store built the client from the URL; one the app handed over is
    /// the app's to shut down.
    owns_client: bool,
    /// Set by the first shutdown.
    shut_down: AtomicBool,
    collection: Collection<Document>,
    operation_timeout: Duration,
    refresh_threshold: f64,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("namespace", &self.inner.collection.namespace().to_string())
            .field("operation_timeout", &self.inner.operation_timeout)
            .field("refresh_threshold", &self.inner.refresh_threshold)
            .finish_non_exhaustive()
    }
}

impl MongoStore {
    /// Connects to `SESSION_MONGODB` and opens the store in `SESSION_MONGODB_DB`
    /// / `SESSION_MONGODB_COLLECT`, with the settings' timeouts and pool size
    /// (see the [module docs](self)).
    ///
    /// Start-up checks that the server answers (within `connect_timeout`) and
    /// creates the indexes.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the URL with its password redacted,
    /// when the URL is malformed, or the server cannot be reached or refuses
    /// the credentials.
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        let url = &settings.mongodb;
        let fail = |source: BoxError| {
            BuildError::backend(BACKEND, location(&url.redacted(), settings), source)
        };
        let mut options = ClientOptions::parse(url.as_str())
            .await
            .map_err(|e| fail(e.into()))?;
        options
            .connect_timeout
            .get_or_insert(settings.connect_timeout);
        options
            .server_selection_timeout
            .get_or_insert(settings.connect_timeout);
        if let Some(size) = settings.pool_size {
            options.max_pool_size.get_or_insert(size);
        }
        if options.app_name.is_none() {
            options.app_name = Some("session-rs".to_owned());
        }
        let client = Client::with_options(options).map_err(|e| fail(e.into()))?;
        Self::open(client, true, settings, url.redacted()).await
    }

    /// Opens the store over a client the app already owns (the Rust form of
    /// Flask-Session's `SESSION_MONGODB = MongoClient(...)`), in
    /// `SESSION_MONGODB_DB` / `SESSION_MONGODB_COLLECT`. The client keeps its
    /// own timeouts and pool; `operation_timeout` and `refresh_threshold` come
    /// from the settings. Start-up checks and indexes are as in
    /// [`MongoStore::from_settings`].
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`] when the server cannot be reached or refuses
    /// the credentials.
    pub async fn from_client(client: Client, settings: &Settings) -> Result<Self, BuildError> {
        Self::open(
            client,
            false,
            settings,
            "the application's mongodb::Client".to_owned(),
        )
        .await
    }

    async fn open(
        client: Client, owns_client: bool, settings: &Settings, url: String,
    ) -> Result<Self, BuildError> {
        let fail =
            |source: BoxError| BuildError::backend(BACKEND, location(&url, settings), source);
        let database = client.database(&settings.mongodb_db);
        let collection = database.collection::<Document>(&settings.mongodb_collect);
        let store = Self {
            inner: Arc::new(Inner {
                client,
                owns_client,
                shut_down: AtomicBool::new(false),
                collection,
                operation_timeout: settings.operation_timeout,
                refresh_threshold: settings.refresh_threshold,
            }),
        };

        // One round trip that proves the server answers and we may log in.
        let start_up = Timeouts::from_settings(settings).deadline();
        within(
            BACKEND,
            start_up,
            database.run_command(doc! { "ping": 1 }).into_future(),
        )
        .await
        .map_err(|e| fail(e.into()))?
        .map_err(|e| fail(e.into()))?;

        // The TTL index Flask-Session makes, a unique one on `id`, and a
        // sparse one on `owner`: only logged-in sessions have the field.
        let ttl = IndexOptions::builder().expire_after(Duration::ZERO).build();
        let unique = IndexOptions::builder().unique(true).build();
        let sparse = IndexOptions::builder().sparse(true).build();
        let indexes = [
            (TTL_INDEX, doc! { "expiration": 1 }, ttl),
            (ID_INDEX, doc! { "id": 1 }, unique),
            (OWNER_INDEX, doc! { OWNER_FIELD: 1 }, sparse),
        ];
        for (name, keys, mut options) in indexes {
            options.name = Some(name.to_owned());
            let index = IndexModel::builder().keys(keys).options(options).build();
            let created = within(
                BACKEND,
                settings.connect_timeout + INDEX_BUILD_TIMEOUT,
                store.inner.collection.create_index(index).into_future(),
            )
            .await;
            match created {
                Ok(Ok(_)) => {}
                Err(elapsed) => return Err(fail(elapsed.into())),
                Ok(Err(error))
                    if is_unavailable(&error)
                        || matches!(*error.kind, ErrorKind::Authentication { .. }) =>
                {
                    return Err(fail(error.into()));
                }
                Ok(Err(error)) => tracing::warn!(
                    index = %name,
                    namespace = %store.inner.collection.namespace(),
                    %error,
                    "could not create the index; sessions still work, but check the collection's indexes"
                ),
            }
        }
        Ok(store)
    }

    /// The collection holding the sessions.
    pub fn collection(&self) -> &Collection<Document> {
        &self.inner.collection
    }

    /// The driver's client (shared with the app if it handed it over).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Runs one driver operation under `operation_timeout`, mapping errors.
    async fn run<T, F>(&self, operation: &'static str, future: F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = mongodb::error::Result<T>> + Send,
    {
        let limit = self.inner.operation_timeout;
        let future = async { future.await.map_err(DriverError) };
        let unavailable = |e: &DriverError| is_unavailable(&e.0);
        run(BACKEND, operation, limit, unavailable, future).await
    }

    async fn write(&self, key: &str, value: &[u8], ttl: Duration) -> mongodb::error::Result<()> {
        let update = doc! {
            "$set": {
                "id": key,
                "val": binary(value),
                "expiration": expiration_after(ttl),
            }
        };
        self.inner
            .collection
            .update_one(doc! { "id": key }, update)
            .upsert(true)
            .await?;
        Ok(())
    }
}

/// Where the store is, for start-up errors: the URL (redacted) and namespace.
fn location(url: &str, settings: &Settings) -> String {
    format!(
        "{url} (database {:?}, collection {:?})",
        settings.mongodb_db, settings.mongodb_collect
    )
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn datetime_after(base: SystemTime, ttl: Duration) -> DateTime {
    let at = base
        .checked_add(ttl)
        .or_else(|| base.checked_add(FAR_FUTURE))
        .unwrap_or(base);
    DateTime::from_system_time(at)
}

fn expiration_after(ttl: Duration) -> DateTime {
    datetime_after(now(), ttl)
}

/// The filter of every read: this key, not yet expired.
/// Bytes as Flask-Session stores them: `BinData(0, …)`.
fn binary(bytes: &[u8]) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    }
}

fn live(key: &str, now: DateTime) -> Document {
    doc! { "id": key, "expiration": { "$gt": now } }
}

/// The stored bytes of a document's `val`. Flask writes `BinData(0, …)`; any
/// binary subtype is accepted, and a string is taken as its UTF-8 bytes (the
/// codec then decides). Anything else gives bytes no codec accepts, so the
/// manager starts a fresh session, as for any undecodable record.
fn value_of(document: &Document) -> Vec<u8> {
    match document.get("val") {
        Some(Bson::Binary(binary)) => binary.bytes.clone(),
        Some(Bson::String(text)) => text.clone().into_bytes(),
        other => {
            tracing::warn!(
                backend = BACKEND,
                found = other.map_or("nothing", |v| bson_type_name(v)),
                "session document has no binary `val`; treating it as undecodable"
            );
            Vec::new()
        }
    }
}

fn bson_type_name(value: &Bson) -> &'static str {
    match value {
        Bson::Document(_) => "a document",
        Bson::Array(_) => "an array",
        Bson::Null => "null",
        _ => "a non-binary value",
    }
}

/// True when the error means the server cannot be reached or has no usable
/// primary right now.
fn is_unavailable(error: &MongoError) -> bool {
    match &*error.kind {
        ErrorKind::Io(_)
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Shutdown => true,
        ErrorKind::Command(command) => UNAVAILABLE_CODES.contains(&command.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => {
            UNAVAILABLE_CODES.contains(&concern.code)
        }
        _ => false,
    }
}

fn is_duplicate_key(error: &MongoError) -> bool {
    matches!(&*error.kind, ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == DUPLICATE_KEY)
}

#[async_trait]
impl SessionStore for MongoStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> Result<PingInfo, StoreError> {
        self.server_version().await.map(PingInfo::with_version)
    }

    /// Shuts the client down (its monitors and its pool) if the store built
    /// it; a client the app handed over is left to the app. The store holds
    /// no cursor or session the driver would wait for.
    async fn shutdown(&self) {
        if !self.inner.owns_client || self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.client.clone().shutdown().await;
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let find = self
            .inner
            .collection
            .find_one(live(key, DateTime::now()))
            .projection(doc! { "_id": 0, "val": 1 })
            .into_future();
        Ok(self.run("load", find).await?.as_ref().map(value_of))
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> StoreResult<Option<Vec<u8>>> {
        let base = now();
        let now = DateTime::from_system_time(base);
        let new_expiration = datetime_after(base, ttl);
        // Refresh once no more than `refresh_threshold` of the lifetime remains.
        let remaining =
            Duration::try_from_secs_f64(ttl.as_secs_f64() * self.inner.refresh_threshold)
                .unwrap_or(ttl);
        let refresh_below = datetime_after(base, remaining);
        let update = vec![doc! {
            "$set": {
                "expiration": {
                    "$cond": [
                        { "$lt": ["$expiration", refresh_below] },
                        new_expiration,
                        "$expiration",
                    ]
                }
            }
        }];
        let find = self
            .inner
            .collection
            .find_one_and_update(live(key, now), update)
            .projection(doc! { "_id": 0, "val": 1 })
            .into_future();
        Ok(self
            .run("load_and_touch", find)
            .await?
            .as_ref()
            .map(value_of))
    }

    async fn save(&self, key: &str, value: &[u8], ttl: Duration, _: SaveHint) -> StoreResult<()> {
        self.run("save", async {
            match self.write(key, value, ttl).await {
                // Two upserts of one new id can race past each other into the
                // unique index; the loser updates the winner's document.
                Err(error) if is_duplicate_key(&error) => self.write(key, value, ttl).await,
                other => other,
            }
        })
        .await
    }

    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        self.update_if_unchanged(key, expected, value, ttl).await
    }

    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        self.insert_if_new(key, value, ttl).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let update = doc! { "$set": { "expiration": expiration_after(ttl) } };
        let touch = self
            .inner
            .collection
            .update_one(live(key, DateTime::now()), update)
            .into_future();
        self.run("touch", touch).await.map(drop)
    }

    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, _ttl: Duration,
    ) -> StoreResult<()> {
        self.index_add(owner, key, created).await
    }

    async fn remove_owned(&self, owner: &str, key: &str) -> StoreResult<()> {
        self.index_remove(owner, key).await
    }

    async fn list_owned(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        self.index_list(owner).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let delete = self
            .inner
            .collection
            .delete_one(doc! { "id": key })
            .into_future();
        self.run("delete", delete).await.map(drop)
    }
}

#[cfg(test)]
mod tests;
