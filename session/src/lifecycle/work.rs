//! What finishing a request's session comes to once it is decided: at most a
//! save, then a delete, then the headers. One sequence for every store; a
//! store that keeps its sessions in this process answers each step at once
//! (see [`dispatch`](super::dispatch)), so its finish completes on its first
//! poll with no boxed future.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use crate::engine::Engine;
use crate::errors::FinishError;
use crate::map::SessionMap;
use crate::owner::index_ttl;
use crate::store::{SaveHint, SessionStore, StoreError, WriteOutcome};
use crate::transport::{Delivery, SessionHeader, Transport};

use super::dispatch;
use super::merge::merge;

/// The response-side result of finish, for the adapter to apply: at most
/// one of [`set_cookie`](Self::set_cookie) (a cookie request) and
/// [`session_header`](Self::session_header) (a header request), and the
/// [`vary`](Self::vary) value.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FinishOutcome {
    /// A `Set-Cookie` header value to add, if any. Never for a header
    /// request.
    pub set_cookie: Option<String>,
    /// Whether `Vary` names `Cookie`: the session was loaded, and the
    /// request is a cookie request. [`vary`](Self::vary) gives the whole
    /// `Vary` value to add.
    pub vary_cookie: bool,
    /// The session header to add, for a header request only: the sid
    /// wherever a cookie request would get a session cookie, an empty value
    /// wherever it would get a deletion cookie.
    pub session_header: Option<SessionHeader>,
    /// What `Vary` names besides or instead of `Cookie` (the session
    /// header's name), made once by the manager.
    vary_beyond_cookie: Option<Arc<str>>,
}

impl FinishOutcome {
    /// The `Vary` value to add, if any: `Cookie` for a cookie request;
    /// `Cookie, <header_name>` for one when header transport is on (whether
    /// a request carries the session header decides which session answers);
    /// `<header_name>` alone for a header request, whose cookies are never
    /// read. `None` when the session was not loaded.
    pub fn vary(&self) -> Option<&str> {
        match &self.vary_beyond_cookie {
            Some(vary) => Some(vary),
            None => self.vary_cookie.then_some("Cookie"),
        }
    }
}

/// Never shows the cookie or the header's value: both carry the raw sid, a
/// bearer token.
impl std::fmt::Debug for FinishOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookie = self.set_cookie.as_deref().map(|cookie| {
            if cookie.contains("Max-Age=0") {
                "deletion"
            } else {
                "session"
            }
        });
        f.debug_struct("FinishOutcome")
            .field("set_cookie", &cookie)
            .field("vary_cookie", &self.vary_cookie)
            .field("session_header", &self.session_header)
            .field("vary", &self.vary())
            .finish()
    }
}

/// What [`RequestSession::finish_or_defer`](super::RequestSession::finish_or_defer)
/// leaves: a finished session, or the store operations still to run. It has
/// exactly these two cases.
#[must_use = "a session with store work left is not finished until `StoreFinish::run` completes"]
#[derive(Debug)]
pub enum Finishing<'a> {
    /// Finished with no store operation: the headers to add.
    Done(FinishOutcome),
    /// The session still has to be written, deleted or re-indexed: await
    /// [`StoreFinish::run`].
    Store(StoreFinish<'a>),
}

/// The store operations of one request's finish, decided and not yet run;
/// from [`RequestSession::finish_or_defer`](super::RequestSession::finish_or_defer).
#[must_use = "the session is not finished until `run` completes"]
pub struct StoreFinish<'a> {
    work: Work,
    engine: &'a Engine,
    transport: Transport,
}

impl<'a> StoreFinish<'a> {
    pub(super) fn new(work: Work, engine: &'a Engine, transport: Transport) -> Self {
        Self {
            work,
            engine,
            transport,
        }
    }

    /// Runs the store operations (the save, then the delete and the owner
    /// index's changes) and says which headers to add.
    ///
    /// # Errors
    ///
    /// As [`RequestSession::finish`](super::RequestSession::finish): a
    /// [`FinishError`] when the store cannot be written or was shut down.
    pub fn run(self) -> impl Future<Output = Result<FinishOutcome, FinishError>> + Send + 'a {
        // The work's own future, not one that wraps it: a wrapper would hold
        // the work twice (its argument, then the inner future's copy).
        self.work.run(self.engine, self.transport)
    }
}

/// Shows no key, record or sid.
impl std::fmt::Debug for StoreFinish<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFinish")
            .field("write", &self.work.write.is_some())
            .field("delete", &self.work.delete.is_some())
            .field("index", &self.work.index.is_some())
            .finish_non_exhaustive()
    }
}

/// The store operations of a finish, in order, and its headers.
pub(super) struct Work {
    /// How the owner index changes once the session is written; `None`
    /// when it does not (boxed: most finishes leave it alone).
    pub(super) index: Option<Box<IndexChange>>,
    pub(super) write: Option<Write>,
    /// A record to delete after the write: the emptied session's, or the one
    /// a regenerate moved away from.
    pub(super) delete: Option<String>,
    /// Whether `delete` is the loaded record a regenerate (or a login)
    /// copied to a new sid, which must still exist once the copy is
    /// indexed: if it was ended while this request ran, the copy is taken
    /// back, so that an ended session never comes back under a new sid
    /// (`write_mode = "merge"`).
    pub(super) moved_from_loaded: bool,
    /// What the client is told about its sid, in the request's transport.
    pub(super) deliver: Option<Delivery>,
}

/// How the session is written.
pub(super) enum Write {
    /// The whole record, last writer wins (`write_mode = "overwrite"`).
    Overwrite {
        key: String,
        bytes: Vec<u8>,
        hint: SaveHint,
    },
    /// A loaded record, replaced only if it is still the one `ours` was
    /// loaded from (its stored bytes); merged into the current record
    /// otherwise, and dropped if the record is gone.
    Conditional {
        key: String,
        bytes: Vec<u8>,
        ours: SessionMap,
    },
    /// A new record, insert-only.
    Insert { key: String, bytes: Vec<u8> },
}

impl Write {
    /// Hands the encoded record's buffer back for a later encoding.
    fn recycle(self) {
        let (Self::Overwrite { bytes, .. }
        | Self::Conditional { bytes, .. }
        | Self::Insert { bytes, .. }) = self;
        crate::buffer_pool::give_back(bytes);
    }
}

/// The owner-index entries a finish changes: an entry is added once the
/// record it names is written (a login, or the target of a regenerate), and
/// removed once the record it named is deleted or moved. A failed add undoes
/// a new record's write, so no logged-in session escapes a revoke; a failed
/// removal only leaves an entry that the next listing prunes.
#[derive(Default)]
pub(super) struct IndexChange {
    /// The owner and key whose entry to remove.
    pub(super) remove: Option<(String, String)>,
    /// The owner, key and login time of the entry to add.
    pub(super) add: Option<(String, String, SystemTime)>,
}

impl IndexChange {
    /// Remove `from`'s entry under `indexed` (when both are known), then add
    /// `to`; `None` when that changes nothing.
    pub(super) fn moved(
        indexed: Option<String>, from: Option<String>, to: Option<(String, String, SystemTime)>,
    ) -> Option<Box<Self>> {
        let change = Self {
            remove: indexed.zip(from),
            add: to,
        };
        (change.remove.is_some() || change.add.is_some()).then(|| Box::new(change))
    }
}

/// How many conditional saves a finish tries before it gives up with a 503.
/// A retry follows at once, with the record the failed save found: a wait
/// would only make that record stale. Each round lets at least one of the
/// writers that loaded one record through (a store that queues its writers
/// lets exactly one through), so 16 parallel requests of one client that
/// finish together all get through.
const MAX_ATTEMPTS: u32 = 16;

/// Never shows keys, cookies or headers: they carry the sid.
impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let write = self.write.as_ref().map(|write| match write {
            Write::Overwrite { .. } => "overwrite",
            Write::Conditional { .. } => "conditional",
            Write::Insert { .. } => "insert",
        });
        f.debug_struct("Work")
            .field("write", &write)
            .field("delete", &self.delete.is_some())
            .field("deliver", &self.deliver.is_some())
            .finish()
    }
}

impl Work {
    /// Headers only, no store operation.
    pub(super) fn headers(deliver: Option<Delivery>) -> Self {
        Self {
            index: None,
            write: None,
            delete: None,
            moved_from_loaded: false,
            deliver,
        }
    }

    /// Runs the store operations in order, then gives the outcome, in the
    /// request's `transport`.
    ///
    /// Every request with a loaded session awaits this future inside the
    /// adapter's own (boxed) one, so it is kept small: the rare steps (index
    /// changes, deletes, a merge after a conflict) are boxed futures of their
    /// own, allocated only when they run.
    ///
    /// An `async` block rather than an `async fn`: an `async fn` keeps its
    /// arguments twice, as captured and as moved into its body.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would hold the work twice"
    )]
    pub(super) fn run(
        mut self, engine: &Engine, transport: Transport,
    ) -> impl Future<Output = Result<FinishOutcome, FinishError>> + Send + '_ {
        async move {
            let store = engine.live_store("save")?.as_ref();
            // The write is borrowed, not moved out, and nothing else is held
            // across its await: a future that moved it would hold it twice, in
            // `self` and in the write's own state (the future is boxed by
            // Rocket, where below 1,032 bytes it stays in the allocator's
            // per-thread cache; BENCHMARKS.md, issue 20).
            if let Some(write) = &self.write {
                if !write_record(engine, store, write).await? {
                    self.end_instead(engine, transport);
                }
            }
            let inserted = matches!(self.write, Some(Write::Insert { .. }));
            // The copy a regenerate wrote, to take back if its original ended.
            let moved_to = match &self.write {
                Some(Write::Insert { key, .. }) if self.moved_from_loaded => Some(key.clone()),
                _ => None,
            };
            if let Some(write) = self.write.take() {
                write.recycle();
            }
            if (self.index.is_some() || self.delete.is_some())
                && !Box::pin(self.index_and_delete(engine, store, inserted, moved_to)).await?
            {
                self.end_instead(engine, transport);
            }
            maybe_cleanup(engine);
            Ok(self.outcome(engine, transport))
        }
    }

    /// After the write: adds the owner-index entry, checks that the record a
    /// regenerate moved away from (`moved_to` names the copy) still exists,
    /// deletes the record to delete, then removes the old entry. `Ok(false)`
    /// when the moved-from record was ended while this request ran: the copy
    /// and its entry are taken back.
    async fn index_and_delete(
        &mut self, engine: &Engine, store: &dyn SessionStore, inserted: bool,
        moved_to: Option<String>,
    ) -> Result<bool, FinishError> {
        let IndexChange { remove, add } = self.index.take().map(|index| *index).unwrap_or_default();
        if let Some((owner, key, created)) = &add {
            if let Err(error) = store
                .add_owned(owner, key, *created, index_ttl(engine.settings()))
                .await
            {
                // A logged-in session the index does not hold could not be
                // revoked: a new record is taken back.
                if inserted {
                    if let Err(undo) = dispatch::delete(store, key).await {
                        tracing::warn!(%undo, "a session that could not be indexed could not be deleted either");
                    }
                }
                return Err(error.into());
            }
        }
        // Checked after the copy is indexed: a revoke that lists the index
        // from now on finds the copy, and one that ended the original before
        // now is seen here.
        if let (Some(copy), Some(original)) = (&moved_to, &self.delete) {
            if dispatch::load(store, original).await?.is_none() {
                dispatch::delete(store, copy).await?;
                if let Some((owner, key, _)) = &add {
                    if let Err(error) = store.remove_owned(owner, key).await {
                        tracing::warn!(%error, "a taken-back session stays in its owner's index until the next listing prunes it");
                    }
                }
                return Ok(false);
            }
        }
        if let Some(key) = &self.delete {
            dispatch::delete(store, key).await?;
        }
        if let Some((owner, key)) = remove {
            if let Err(error) = store.remove_owned(&owner, &key).await {
                tracing::warn!(%error, "an ended session stays in its owner's index until the next listing prunes it");
            }
        }
        Ok(true)
    }

    /// Whether finishing needs the store: a write, a delete or a change of
    /// the owner index. A refresh that the load already did (Redis's
    /// `GETEX`) is none of these.
    pub(super) fn needs_store(&self) -> bool {
        self.write.is_some() || self.delete.is_some() || self.index.is_some()
    }

    /// [`run`](Self::run) for work that [`needs_store`](Self::needs_store)
    /// says needs no store: the same checks and headers, with no future.
    pub(super) fn finish_without_store(
        self, engine: &Engine, transport: Transport,
    ) -> Result<FinishOutcome, FinishError> {
        engine.live_store("save")?;
        maybe_cleanup(engine);
        Ok(self.outcome(engine, transport))
    }

    /// The headers for the adapter to add.
    fn outcome(self, engine: &Engine, transport: Transport) -> FinishOutcome {
        let (set_cookie, session_header) = match self.deliver {
            None => (None, None),
            Some(Delivery::SetCookie(cookie)) => (Some(cookie), None),
            Some(Delivery::Header(header)) => (None, Some(header)),
        };
        // Work exists only for a loaded session, whose response varies with
        // what carried its sid.
        FinishOutcome {
            set_cookie,
            vary_cookie: transport == Transport::Cookie,
            session_header,
            vary_beyond_cookie: engine.vary_beyond_cookie(transport),
        }
    }

    /// The session ended (a logout, a regenerate, a revoke, expiry) while
    /// this request ran: it stays ended, and the client told to forget it.
    fn end_instead(&mut self, engine: &Engine, transport: Transport) {
        tracing::debug!("the session ended while this request ran; its changes are dropped");
        self.deliver = Some(engine.expire(transport));
        self.delete = None;
        // Whoever ended it also took it out of the index.
        self.index = None;
    }
}

/// Writes the record as `write` says. `Ok(false)` when a conditional save
/// found the record gone: nothing was written.
///
/// An `async` block, as [`Work::run`]'s is, for the same reason: the write's
/// future is part of the work's.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold its arguments twice"
)]
fn write_record<'a>(
    engine: &'a Engine, store: &'a dyn SessionStore, write: &'a Write,
) -> impl Future<Output = Result<bool, FinishError>> + Send + 'a {
    async move {
        let ttl = engine.settings().permanent_session_lifetime;
        match write {
            Write::Overwrite { key, bytes, hint } => {
                dispatch::save(store, key, bytes, ttl, *hint).await?;
                Ok(true)
            }
            Write::Insert { key, bytes } => {
                match dispatch::insert_new(store, key, bytes, ttl).await? {
                    // Our own record, when a store resent the insert after a
                    // dropped connection: it was written.
                    WriteOutcome::Changed(current) if current == *bytes => Ok(true),
                    WriteOutcome::Saved => Ok(true),
                    // A new sid is 128 bits or more from the OS random source: a
                    // record under it is not a collision to retry.
                    _ => Err(FinishError::Store(StoreError::failed(
                        store.backend(),
                        "insert",
                        "a record already exists under a new sid",
                    ))),
                }
            }
            Write::Conditional { key, bytes, ours } => {
                let expected = ours.stored_bytes();
                match dispatch::save_if_unchanged(store, key, expected, bytes, ttl).await? {
                    WriteOutcome::Saved => Ok(true),
                    // Our own record, when a store resent the save after a
                    // dropped connection: it was written.
                    WriteOutcome::Changed(now) if now == *bytes => Ok(true),
                    WriteOutcome::Changed(now) => {
                        Box::pin(merge_and_retry(engine, store, key, now, ours)).await
                    }
                    _ => Ok(false),
                }
            }
        }
    }
}

/// After a conditional save found the record changed to `current` by
/// another writer: merges onto it and saves again, at most [`MAX_ATTEMPTS`]
/// saves in all. `Ok(false)` when the record is gone: nothing was written.
async fn merge_and_retry(
    engine: &Engine, store: &dyn SessionStore, key: &str, mut current: Vec<u8>, ours: &SessionMap,
) -> Result<bool, FinishError> {
    let ttl = engine.settings().permanent_session_lifetime;
    let codec = engine.codec();
    let loaded = decode_for_merge(engine, ours.stored_bytes())?;
    // The first save was the one that found the record changed.
    for _ in 1..MAX_ATTEMPTS {
        let theirs = decode_for_merge(engine, &current)?;
        let bytes = codec.encode(&merge(&loaded, ours, theirs))?;
        match dispatch::save_if_unchanged(store, key, &current, &bytes, ttl).await? {
            WriteOutcome::Saved => {
                crate::buffer_pool::give_back(bytes);
                return Ok(true);
            }
            WriteOutcome::Changed(now) if now == bytes => return Ok(true),
            WriteOutcome::Changed(now) => current = now,
            _ => return Ok(false),
        }
    }
    tracing::warn!(
        attempts = MAX_ATTEMPTS,
        backend = store.backend(),
        "the session kept changing while this request saved it; nothing was written"
    );
    Err(FinishError::Conflict {
        attempts: MAX_ATTEMPTS,
    })
}

/// A record to merge with; one that cannot be decoded (another app's) is a
/// conflict this request cannot resolve.
fn decode_for_merge(engine: &Engine, bytes: &[u8]) -> Result<SessionMap, FinishError> {
    engine.codec().decode(bytes).map(|(map, _)| map).map_err(|error| {
        tracing::warn!(%error, "a session changed by another writer cannot be decoded to merge with");
        FinishError::Conflict { attempts: 1 }
    })
}

/// `SESSION_CLEANUP_N_REQUESTS`: about one finished request in N+1 starts a
/// cleanup pass, off the request's critical path.
fn maybe_cleanup(engine: &Engine) {
    let Some(n) = engine.settings().cleanup_n_requests else {
        return;
    };
    if engine.is_shut_down() {
        return;
    }
    if rand::random_range(0..=n) != 0 {
        return;
    }
    // Finish may run outside a Tokio runtime (a test's own executor, a
    // framework on another runtime): then this pass is skipped, not a panic.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("no Tokio runtime here: the session cleanup pass is skipped");
        return;
    };
    let store = engine.store().clone();
    runtime.spawn(async move {
        match store.cleanup().await {
            Ok(removed) => {
                tracing::debug!(removed, backend = store.backend(), "session cleanup pass")
            }
            Err(error) => tracing::warn!(%error, "session cleanup pass failed"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rocket's fairing boxes this future on every request that stores
    /// (`Box::pin(store_work.run())`). glibc serves a block of 1,032 bytes or
    /// less from its per-thread cache; a larger one costs some 700
    /// instructions more per request (BENCHMARKS.md, issue 20). The future
    /// was 1,448 bytes while `run` and `write_record` were `async fn`s that
    /// moved the write out of the work.
    #[test]
    #[cfg(feature = "memory")]
    fn the_store_work_future_fits_the_allocators_per_thread_cache() {
        let settings = session_config::Settings::default();
        let store: Arc<dyn SessionStore> = Arc::new(crate::store::memory::MemoryStore::new());
        let engine = Engine::new(settings, store).expect("valid settings");
        let size = std::mem::size_of_val(&Work::headers(None).run(&engine, Transport::Cookie));
        assert!(size <= 1032, "the store work's future is {size} bytes");
    }
}
