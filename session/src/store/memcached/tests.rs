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
