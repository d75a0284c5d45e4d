//! The owner index on memcached (design §12): one item per owner, updated
//! with CAS. **Best-effort**, as memcached is: see the
//! [module docs](super#the-owner-index).
//!
//! The item's key is a digest, so any owner fits memcached's key rules:
//! `<key_prefix>owner:<hex SHA-1>`, or `owner:<hex SHA-1>` when a long prefix
//! would take the key past [`MAX_KEY_BYTES`]. The digest covers the prefix
//! and the owner, so apps with different prefixes never share an index. No
//! session key can be taken for an index: a sid never holds a `:`.
//!
//! The value is text: a header line `rsess-owners 1 <expires>` (when the
//! item expires, in unix seconds, so an add can keep it alive at least the
//! session's lifetime without shortening it), then one line
//! `<login time> <session key>` per session. Session keys are memcached keys,
//! so they hold no space or line break.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use ::memcache::{Client, ClientError, MemcacheError};
use sha1::{Digest, Sha1};

use super::{check_key, exptime, MemcachedStore, BACKEND, MAX_KEY_BYTES};
use crate::store::support::{hex, ttl_seconds};
use crate::store::{from_unix_seconds, unix_seconds, IndexedSession, StoreError, StoreResult};

/// The operation name index errors carry.
const OPERATION: &str = "index";

/// How many times an update reads and tries its CAS again after another
/// writer changed the index first.
pub(super) const CAS_ATTEMPTS: usize = 16;

/// Keys per `gets` of a listing, so a large index never makes one huge
/// command line.
const KEYS_PER_GET: usize = 100;

const HEADER: &str = "rsess-owners 1 ";

/// An owner's index, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Index {
    /// When the item expires, unix seconds.
    expires: u64,
    /// Session key → login time, unix seconds.
    entries: BTreeMap<String, i64>,
}

impl Index {
    /// The index in `bytes`; an item that is not one reads as empty, so the
    /// next update replaces it.
    pub(super) fn parse(bytes: &[u8]) -> Self {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Self::default();
        };
        let mut lines = text.lines();
        let Some(expires) = lines
            .next()
            .and_then(|line| line.strip_prefix(HEADER))
            .and_then(|expires| expires.parse().ok())
        else {
            return Self::default();
        };
        let entries = lines
            .filter_map(|line| {
                let (created, key) = line.split_once(' ')?;
                Some((key.to_owned(), created.parse().ok()?))
            })
            .filter(|(key, _)| check_key(key).is_ok())
            .collect();
        Self { expires, entries }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut text = format!("{HEADER}{}\n", self.expires);
        for (key, created) in &self.entries {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{created} {key}");
        }
        text.into_bytes()
    }

    /// The item's `exptime` now.
    fn exptime(&self, now: SystemTime) -> u32 {
        let left = self.expires.saturating_sub(now_secs(now));
        exptime(Duration::from_secs(left), now)
    }
}

/// The index's update lost to other writers [`CAS_ATTEMPTS`] times in a row.
#[derive(Debug, thiserror::Error)]
#[error(
    "the owner's index kept changing under concurrent updates ({CAS_ATTEMPTS} tries); try again"
)]
struct Contended;

/// What one update of the index did.
enum Updated {
    Done,
    Contended,
}

fn now_secs(now: SystemTime) -> u64 {
    u64::try_from(unix_seconds(now)).unwrap_or(0)
}

/// Reads the index at `key`, lets `change` edit it, and stores it with CAS
/// (or `add` when there is none), until the write wins or the tries run
/// out. `change` answers whether it changed anything: when it did not,
/// nothing is written. `create` says whether to create a missing index.
fn update(
    client: &Client, key: &str, create: bool, change: &dyn Fn(&mut Index, SystemTime) -> bool,
) -> Result<Updated, MemcacheError> {
    for _ in 0..CAS_ATTEMPTS {
        let now = SystemTime::now();
        match client.get::<(Vec<u8>, u32, Option<u64>)>(key)? {
            Some((bytes, _, Some(cas))) => {
                let mut index = Index::parse(&bytes);
                if !change(&mut index, now) {
                    return Ok(Updated::Done);
                }
                if client.cas(key, index.encode().as_slice(), index.exptime(now), cas)? {
                    return Ok(Updated::Done);
                }
            }
            Some((_, _, None)) => {
                return Err(MemcacheError::ClientError(ClientError::Error(
                    "memcached answered `gets` without a CAS unique".into(),
                )))
            }
            None if !create => return Ok(Updated::Done),
            None => {
                let mut index = Index::default();
                change(&mut index, now);
                // `add` stores only if the key is still free; the client
                // does not say whether it did, so the next round reads the
                // index and finds the entry there (nothing to write) or not.
                client.add(key, index.encode().as_slice(), index.exptime(now))?;
            }
        }
    }
    Ok(Updated::Contended)
}

/// The item key of `owner`'s index under `prefix`: see the module docs.
pub(super) fn index_key(prefix: &str, owner: &str) -> String {
    let mut digest = Sha1::new();
    digest.update((prefix.len() as u64).to_be_bytes());
    digest.update(prefix.as_bytes());
    digest.update(owner.as_bytes());
    let digest = hex(&digest.finalize());
    let key = format!("{prefix}owner:{digest}");
    if key.len() <= MAX_KEY_BYTES {
        key
    } else {
        format!("owner:{digest}")
    }
}

impl MemcachedStore {
    /// The item key of `owner`'s index.
    pub(super) fn owner_key(&self, owner: &str) -> String {
        index_key(&self.key_prefix, owner)
    }

    /// Runs `update` on `owner`'s index, as one store operation.
    async fn update_index(
        &self, owner: &str, create: bool,
        change: impl Fn(&mut Index, SystemTime) -> bool + Send + Sync + 'static,
    ) -> StoreResult<()> {
        let index = self.owner_key(owner);
        let updated = self
            .blocking(OPERATION, &index, move |client, key| {
                update(client, key, create, &change)
            })
            .await?;
        match updated {
            Updated::Done => Ok(()),
            Updated::Contended => Err(StoreError::unavailable(BACKEND, OPERATION, Contended)),
        }
    }

    pub(super) async fn index_add(
        &self, owner: &str, key: &str, created: SystemTime, ttl: Duration,
    ) -> StoreResult<()> {
        check_key(key).map_err(|error| StoreError::failed(BACKEND, OPERATION, error))?;
        let (key, created) = (key.to_owned(), unix_seconds(created));
        self.update_index(owner, true, move |index, now| {
            let lives_until = now_secs(now).saturating_add(ttl_seconds(ttl));
            let before = (index.expires, index.entries.get(&key).copied());
            index.expires = index.expires.max(lives_until);
            index.entries.insert(key.clone(), created);
            before != (index.expires, Some(created))
        })
        .await
    }

    pub(super) async fn index_remove(&self, owner: &str, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        // An emptied index stays, empty, until it expires: deleting it could
        // drop the entry of an add that read it just before.
        self.update_index(owner, false, move |index, _| {
            index.entries.remove(&key).is_some()
        })
        .await
    }

    pub(super) async fn index_list(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        let index_key = self.owner_key(owner);
        let found = self
            .blocking(OPERATION, &index_key, |client, key| {
                let Some(bytes) = client.get::<Vec<u8>>(key)? else {
                    return Ok(None);
                };
                let index = Index::parse(&bytes);
                let keys: Vec<&str> = index.entries.keys().map(String::as_str).collect();
                let mut live = std::collections::HashSet::new();
                for chunk in keys.chunks(KEYS_PER_GET) {
                    live.extend(client.gets::<Vec<u8>>(chunk)?.into_keys());
                }
                Ok(Some((index, live)))
            })
            .await?;
        let Some((index, live)) = found else {
            return Ok(Vec::new());
        };
        let (listed, dead): (Vec<_>, Vec<_>) = index
            .entries
            .into_iter()
            .partition(|(key, _)| live.contains(key));
        if !dead.is_empty() {
            let dead: Vec<String> = dead.into_iter().map(|(key, _)| key).collect();
            self.update_index(owner, false, move |index, _| {
                let before = index.entries.len();
                for key in &dead {
                    index.entries.remove(key);
                }
                index.entries.len() != before
            })
            .await
            .or_else(|error| match error.kind {
                // Pruning is housekeeping: the listing is right without it,
                // and the next one prunes again.
                crate::store::StoreErrorKind::Unavailable if error.source.is::<Contended>() => {
                    Ok(())
                }
                _ => Err(error),
            })?;
        }
        Ok(listed
            .into_iter()
            .map(|(key, created)| IndexedSession::new(key, from_unix_seconds(created), None))
            .collect())
    }
}
