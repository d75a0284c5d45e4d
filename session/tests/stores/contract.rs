//! The store contract: what every backend does alike, checked through the
//! [`SessionStore`] trait alone against each backend on its real server.
//! [`store_contract!`] expands the same tests once per backend; a backend's
//! own module tests only what is its own (its layout, faults and fallbacks).
//!
//! The contract: a value round-trips, and a rewrite replaces it; a missing
//! key reads as `None`; deleting or touching a missing key succeeds and
//! creates nothing; a touch extends the life without changing the value; any
//! bytes round-trip; a record is gone once its TTL has passed. Conditional
//! writes: a save of the record loaded is `Saved`, of a record changed since
//! is `Changed` with the current record, of a deleted one `Gone`; an insert
//! never replaces a record; of many writers that loaded one record, exactly
//! one wins each round.
//!
//! Keys carry a prefix no other test (or run) uses, so the backends' shared
//! servers, collections and tables need no clearing; each test deletes what
//! it wrote.

// Which helpers a build uses depends on the backends its features compile.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use session::config::Settings;
use session::store::{SaveHint, SessionStore, WriteOutcome};

use crate::common::unique_prefix;
pub use crate::owner_contract::*;

const MINUTE: Duration = Duration::from_secs(60);

/// One backend's store, and what must live as long as it.
pub struct Under {
    pub(crate) store: Arc<dyn SessionStore>,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

impl Under {
    /// A store with nothing to keep alive.
    pub fn new(store: impl SessionStore) -> Self {
        Self {
            store: Arc::new(store),
            prefix: unique_prefix("contract"),
            _dir: None,
        }
    }

    /// A store whose files live in `dir`.
    pub fn in_dir(store: impl SessionStore, dir: tempfile::TempDir) -> Self {
        Self {
            _dir: Some(dir),
            ..Self::new(store)
        }
    }

    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Settings for the backends' own tests' servers, with timeouts a loaded CI
/// machine keeps to.
pub fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.operation_timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings.pool_size = Some(2);
    settings
}

/// Expands the contract's tests in a module named `$backend`, each with the
/// attributes given (`#[ignore = …]` for a backend that needs a server), over
/// the store `$open` evaluates to (an [`Under`]).
macro_rules! store_contract {
    ($(#[$attr:meta])* $backend:ident, $open:block) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            async fn open() -> Under $open

            store_contract!(@tests [$(#[$attr])*] round_trip, missing_key, delete_of_a_missing_key,
                touch_without_rewrite, binary_values, expiry, conditional_save_outcomes,
                insert_new_refuses_an_existing_key, one_writer_wins_each_round,
                index_lists_added_sessions_with_their_times, index_drops_removed_and_moved_sessions,
                index_prunes_sessions_whose_record_is_gone,
                index_keeps_owners_apart_whatever_their_characters,
                index_revokes_one_all_but_current_and_all);
        }
    };
    (@tests $attrs:tt $($test:ident),*) => {
        $(store_contract!(@test $attrs $test);)*
    };
    (@test [$(#[$attr:meta])*] $test:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $test() {
            super::$test(open().await).await;
        }
    };
}

async fn round_trip(under: Under) {
    let (store, key) = (&under.store, under.key("round-trip"));
    store
        .save(&key, b"first", MINUTE, SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store.load(&key).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        store.load_and_touch(&key, MINUTE).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    store
        .save(&key, b"second", MINUTE, SaveHint::Existing)
        .await
        .unwrap();
    assert_eq!(
        store.load(&key).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    store.delete(&key).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), None);
}

async fn missing_key(under: Under) {
    let (store, key) = (&under.store, under.key("missing"));
    assert_eq!(store.load(&key).await.unwrap(), None);
    assert_eq!(store.load_and_touch(&key, MINUTE).await.unwrap(), None);
    assert_eq!(
        store.load(&key).await.unwrap(),
        None,
        "a read creates nothing"
    );
}

async fn delete_of_a_missing_key(under: Under) {
    let (store, key) = (&under.store, under.key("never-written"));
    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    store.touch(&key, MINUTE).await.unwrap();
    assert_eq!(
        store.load(&key).await.unwrap(),
        None,
        "a touch creates nothing"
    );
}

async fn touch_without_rewrite(under: Under) {
    let (store, key) = (&under.store, under.key("touch"));
    store
        .save(&key, b"value", Duration::from_secs(2), SaveHint::New)
        .await
        .unwrap();
    store.touch(&key, MINUTE).await.unwrap();
    // Past the TTL it was saved with: only the touch keeps it.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(
        store.load(&key).await.unwrap().as_deref(),
        Some(&b"value"[..])
    );
    assert_eq!(
        store.load_and_touch(&key, MINUTE).await.unwrap().as_deref(),
        Some(&b"value"[..])
    );
    store.delete(&key).await.unwrap();
}

async fn binary_values(under: Under) {
    let (store, key) = (&under.store, under.key("binary"));
    // Every byte value, text that is not UTF-8, and protocol words.
    // Within max_session_bytes (64 KiB), which the filesystem store caps reads at.
    let mut value: Vec<u8> = (0..=255u8).cycle().take(60 * 1024).collect();
    value.extend_from_slice(&[0xff, 0x00, 0xc3, 0x28, 0x80]);
    value.extend_from_slice(b"\r\nEND\r\n");
    store
        .save(&key, &value, MINUTE, SaveHint::New)
        .await
        .unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(value.clone()));
    assert_eq!(
        store.load_and_touch(&key, MINUTE).await.unwrap(),
        Some(value)
    );
    store.delete(&key).await.unwrap();
}

async fn expiry(under: Under) {
    let (store, key) = (&under.store, under.key("expiry"));
    store
        .save(&key, b"short", Duration::from_secs(1), SaveHint::New)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(store.load(&key).await.unwrap(), None);
    assert_eq!(store.load_and_touch(&key, MINUTE).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

async fn conditional_save_outcomes(under: Under) {
    let (store, key) = (&under.store, under.key("conditional"));
    store
        .save(&key, b"v1", MINUTE, SaveHint::New)
        .await
        .unwrap();
    let saved = store.save_if_unchanged(&key, b"v1", b"v2", MINUTE).await;
    assert_eq!(saved.unwrap(), WriteOutcome::Saved);
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some(&b"v2"[..]));
    // Loaded v1, but another writer made it v2: nothing written, v2 returned.
    let stale = store.save_if_unchanged(&key, b"v1", b"v3", MINUTE).await;
    assert_eq!(stale.unwrap(), WriteOutcome::Changed(b"v2".to_vec()));
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some(&b"v2"[..]));
    // Deleted since it was loaded: nothing written, and it stays deleted.
    store.delete(&key).await.unwrap();
    let gone = store.save_if_unchanged(&key, b"v2", b"v4", MINUTE).await;
    assert_eq!(gone.unwrap(), WriteOutcome::Gone);
    assert_eq!(store.load(&key).await.unwrap(), None);

    // Large records too (a store may compare them by digest).
    let (big, bigger) = (vec![7u8; 4096], vec![8u8; 4096]);
    store.save(&key, &big, MINUTE, SaveHint::New).await.unwrap();
    let saved = store.save_if_unchanged(&key, &big, &bigger, MINUTE).await;
    assert_eq!(saved.unwrap(), WriteOutcome::Saved);
    let stale = store.save_if_unchanged(&key, &big, b"v5", MINUTE).await;
    assert_eq!(stale.unwrap(), WriteOutcome::Changed(bigger));
    store.delete(&key).await.unwrap();
}

async fn insert_new_refuses_an_existing_key(under: Under) {
    let (store, key) = (&under.store, under.key("insert"));
    assert_eq!(
        store.insert_new(&key, b"first", MINUTE).await.unwrap(),
        WriteOutcome::Saved
    );
    assert_eq!(
        store.insert_new(&key, b"second", MINUTE).await.unwrap(),
        WriteOutcome::Changed(b"first".to_vec())
    );
    assert_eq!(
        store.load(&key).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    store.delete(&key).await.unwrap();
}

/// Eight writers that loaded the same record race, five rounds: each round
/// exactly one is `Saved`, and the others see its record.
async fn one_writer_wins_each_round(under: Under) {
    let (store, key) = (&under.store, under.key("race"));
    let mut current = b"round-0".to_vec();
    store
        .save(&key, &current, MINUTE, SaveHint::New)
        .await
        .unwrap();
    for round in 1..=5 {
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (store, key, expected) = (store.clone(), key.clone(), current.clone());
                tokio::spawn(async move {
                    let value = format!("round-{round}-writer-{writer}").into_bytes();
                    let outcome = store
                        .save_if_unchanged(&key, &expected, &value, MINUTE)
                        .await;
                    (value, outcome.unwrap())
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut seen = Vec::new();
        for writer in writers {
            match writer.await.unwrap() {
                (value, WriteOutcome::Saved) => winners.push(value),
                (_, WriteOutcome::Changed(now)) => seen.push(now),
                (_, other) => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let winner = winners.remove(0);
        assert!(seen.iter().all(|now| *now == winner), "round {round}");
        assert_eq!(store.load(&key).await.unwrap(), Some(winner.clone()));
        current = winner;
    }
    store.delete(&key).await.unwrap();
}

#[cfg(feature = "memory")]
store_contract!(memory, {
    Under::new(session::store::memory::MemoryStore::new())
});

#[cfg(feature = "filesystem")]
store_contract!(filesystem, {
    let dir = tempfile::tempdir().unwrap();
    let settings = {
        let mut settings = settings();
        settings.file_dir = dir.path().to_owned();
        settings
    };
    let store = session::store::filesystem::FileStore::from_settings(&settings)
        .await
        .unwrap();
    Under::in_dir(store, dir)
});

#[cfg(feature = "redis")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    redis,
    {
        let settings = {
            let mut settings = settings();
            settings.redis = vec![session::config::ConnectionUrl::new(
                "redis://127.0.0.1:6379",
            )];
            settings
        };
        Under::new(
            session::store::redis::RedisStore::from_settings(&settings)
                .await
                .unwrap(),
        )
    }
);

#[cfg(feature = "redis")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    redis_cluster,
    {
        let nodes = [
            "redis://127.0.0.1:7000",
            "redis://127.0.0.1:7001",
            "redis://127.0.0.1:7002",
        ];
        let settings = {
            let mut settings = settings();
            settings.redis = nodes.map(session::config::ConnectionUrl::new).to_vec();
            settings
        };
        Under::new(
            session::store::redis::RedisStore::from_settings(&settings)
                .await
                .unwrap(),
        )
    }
);

#[cfg(feature = "memcached")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    memcached,
    {
        let settings = {
            let mut settings = settings();
            settings.memcached = vec!["127.0.0.1:11211".to_owned()];
            settings
        };
        let store = session::store::memcached::MemcachedStore::from_settings(&settings);
        Under::new(store.await.unwrap())
    }
);

#[cfg(feature = "mongodb")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    mongodb,
    {
        let url = std::env::var("SESSION_TEST_MONGODB")
            .unwrap_or_else(|_| "mongodb://127.0.0.1:27017".to_owned());
        let settings = {
            let mut settings = settings();
            settings.mongodb = session::config::ConnectionUrl::new(url);
            settings.mongodb_db = "session_store_tests".to_owned();
            settings.mongodb_collect = "contract".to_owned();
            settings
        };
        let store = session::store::mongodb::MongoStore::from_settings(&settings);
        Under::new(store.await.unwrap())
    }
);

/// Settings for the SQL store on `url`, in the contract's own table.
#[cfg(feature = "_sql")]
fn sql(url: &str) -> Settings {
    let mut settings = settings();
    settings.sqlalchemy = session::config::ConnectionUrl::new(url);
    settings.sqlalchemy_table = session::config::SqlIdentifier::new("contract_sessions").unwrap();
    settings
}

#[cfg(feature = "sqlite")]
store_contract!(sqlite, {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let settings = sql(&format!("sqlite://{}?mode=rwc", path.display()));
    let store = session::store::sql::SqlStore::from_settings(&settings);
    Under::in_dir(store.await.unwrap(), dir)
});

#[cfg(feature = "postgres")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    postgres,
    {
        let url = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/sessions_test".to_owned());
        let settings = sql(&url);
        Under::new(
            session::store::sql::SqlStore::from_settings(&settings)
                .await
                .unwrap(),
        )
    }
);

#[cfg(feature = "mysql")]
store_contract!(
    #[ignore = "needs live servers: run scripts/test.sh"]
    mariadb,
    {
        let url = std::env::var("TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/sessions_test".to_owned());
        let settings = sql(&url);
        Under::new(
            session::store::sql::SqlStore::from_settings(&settings)
                .await
                .unwrap(),
        )
    }
);
