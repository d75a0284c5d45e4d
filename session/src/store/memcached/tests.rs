//! Unit tests of the memcached store's pure parts: expiry times, keys, errors.

use super::*;

#[test]
fn long_ttls_are_absolute_unix_times() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert_eq!(exptime(Duration::from_secs(60), now), 60);
    assert_eq!(
        exptime(Duration::from_secs(MAX_RELATIVE_EXPTIME), now),
        2_592_000
    );
    let day31 = Duration::from_secs(31 * 86_400);
    assert_eq!(exptime(day31, now), 1_800_000_000 + 2_678_400);
    assert_eq!(exptime(Duration::from_millis(10), now), 1);
    // memcached reads exptime as a signed 32-bit number: a later time would
    // be negative, an item expired at once.
    let century = Duration::from_secs(100 * 365 * 86_400);
    assert_eq!(exptime(century, now), i32::MAX as u32);
}

#[test]
fn keys_memcached_cannot_take_are_refused() {
    assert!(check_key("session:abc_-123").is_ok());
    assert!(check_key(&"k".repeat(250)).is_ok());
    assert!(check_key(&"k".repeat(251)).is_err());
    assert!(check_key("with space").is_err());
    assert!(check_key("new\r\nline").is_err());
    assert!(check_key("").is_err());
}

#[tokio::test]
async fn startup_with_the_server_down_names_it() {
    let settings = {
        let mut settings = Settings::default();
        settings.memcached = vec!["127.0.0.1:1".to_owned()];
        settings.connect_timeout = Duration::from_millis(300);
        settings
    };
    let started = std::time::Instant::now();
    let error = MemcachedStore::from_settings(&settings).await.err();
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("memcached"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_index_round_trips_and_garbage_reads_as_empty() {
    use super::owners::Index;
    let mut text = String::from("rsess-owners 1 1800000000\n");
    text.push_str("1700000000 session:abc\n-5 session:old\n");
    let index = Index::parse(text.as_bytes());
    assert_eq!(Index::parse(&index.encode()), index);
    assert_eq!(index.encode(), {
        // Sorted by key, one line each.
        let mut sorted = String::from("rsess-owners 1 1800000000\n");
        sorted.push_str("1700000000 session:abc\n-5 session:old\n");
        sorted.into_bytes()
    });
    assert_ne!(index, Index::default());
    for garbage in [&b""[..], b"\xff\xfe", b"rsess-owners 2 1\n1 k\n", b"1 k\n"] {
        assert_eq!(Index::parse(garbage), Index::default(), "{garbage:?}");
    }
    // A line that is not an entry, or names no memcached key, is skipped.
    let odd = Index::parse(b"rsess-owners 1 5\nnot-a-number k\n1 two words\n1 ok\n");
    assert_eq!(odd.encode(), b"rsess-owners 1 5\n1 ok\n");
}

#[test]
fn index_keys_are_memcached_keys_for_any_owner_and_prefix() {
    use super::owners::index_key;
    let key = index_key("session:", "a b\r\n{x}/../é");
    assert!(key.starts_with("session:owner:"), "{key}");
    assert_eq!(key.len(), "session:owner:".len() + 40);
    assert!(check_key(&key).is_ok());
    assert_ne!(index_key("session:", "a"), index_key("session:", "b"));
    // The prefix is in the digest: moving text between prefix and owner
    // never gives another app's index.
    assert_ne!(
        index_key("s:", "owner:x").rsplit(':').next(),
        index_key("s:owner:", "x").rsplit(':').next()
    );
    let long = "p".repeat(230);
    let key = index_key(&long, &"o".repeat(1024));
    assert!(check_key(&key).is_ok(), "{key}");
    assert!(key.starts_with("owner:"), "{key}");
    assert_ne!(key, index_key(&"q".repeat(230), &"o".repeat(1024)));
}
