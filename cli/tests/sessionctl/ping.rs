//! `ping` on every backend, and on a backend that is down: exit 4 and a
//! message naming the backend and the redacted URL, within the timeouts.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::{sessionctl, unique, Run, MARIADB_URL, POSTGRES_URL};

/// `ping --json` with `env`; asserts success and the reported backend.
fn ping(env: &[(&str, &str)], backend: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let run = sessionctl(dir.path(), env, &["ping", "--json"]).ok();
    let json = run.json();
    assert_eq!(json["backend"], backend, "{run:?}");
    assert!(json["latency_ms"].as_f64().unwrap() >= 0.0, "{run:?}");
    assert!(json["connect_ms"].as_f64().is_some(), "{run:?}");
    // The text form says the same.
    let text = sessionctl(dir.path(), env, &["ping"]).ok().stdout;
    assert!(text.starts_with(&format!("{backend} at ")), "{text}");
    assert!(
        text.contains(": up\n") && text.contains("round trip: "),
        "{text}"
    );
    json
}

fn version(json: &serde_json::Value) -> &str {
    json["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no version in {json}"))
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): Redis on 6379"]
fn redis_tells_its_version() {
    let json = ping(&[("SESSION_TYPE", "redis")], "redis");
    assert!(
        version(&json).chars().next().unwrap().is_ascii_digit(),
        "{json}"
    );
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): Redis Cluster on 7000-7002"]
fn redis_cluster_tells_its_version() {
    let env = [
        ("SESSION_TYPE", "redis"),
        (
            "SESSION_REDIS",
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002",
        ),
    ];
    let json = ping(&env, "redis");
    assert!(version(&json).contains('.'), "{json}");
    assert_eq!(
        json["location"],
        "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002"
    );
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): memcached on 11211"]
fn memcached_tells_its_version() {
    let json = ping(&[("SESSION_TYPE", "memcached")], "memcached");
    assert!(version(&json).starts_with("127.0.0.1:11211 "), "{json}");
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): PostgreSQL on 5432"]
fn postgres_tells_its_version() {
    let table = unique("conf_");
    let env = [
        ("SESSION_TYPE", "sqlalchemy"),
        ("SESSION_SQLALCHEMY", POSTGRES_URL),
        ("SESSION_SQLALCHEMY_TABLE", &table),
    ];
    let json = ping(&env, "postgres");
    assert!(version(&json).starts_with("PostgreSQL "), "{json}");
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): MariaDB on 3306"]
fn mariadb_tells_its_version() {
    let table = unique("conf_");
    let env = [
        ("SESSION_TYPE", "sqlalchemy"),
        ("SESSION_SQLALCHEMY", MARIADB_URL),
        ("SESSION_SQLALCHEMY_TABLE", &table),
    ];
    let json = ping(&env, "mysql");
    assert!(version(&json).contains("MariaDB"), "{json}");
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): the MongoDB-wire server on 27017"]
fn mongodb_tells_its_version() {
    let collection = unique("cli_");
    let env = [
        ("SESSION_TYPE", "mongodb"),
        ("SESSION_MONGODB_COLLECT", &collection),
    ];
    let json = ping(&env, "mongodb");
    assert!(version(&json).contains('.'), "{json}");
}

#[test]
fn sqlite_tells_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let env = [("SESSION_TYPE", "sql"), ("SESSION_SQLALCHEMY", &url)];
    let json = ping(&env, "sqlite");
    assert!(version(&json).starts_with("3."), "{json}");
}

#[test]
fn filesystem_answers_without_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let env = [
        ("SESSION_TYPE", "filesystem"),
        ("SESSION_FILE_DIR", sessions.to_str().unwrap()),
    ];
    let json = ping(&env, "filesystem");
    assert!(json["version"].is_null(), "{json}");
    let text = sessionctl(dir.path(), &env, &["ping"]).ok().stdout;
    assert!(text.contains("version: not reported"), "{text}");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn assert_down(run: &Run, backend: &str, redacted_url: &str) {
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains(backend), "{run:?}");
    assert!(run.stderr.contains(redacted_url), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
}

#[test]
fn a_backend_that_is_down_fails_within_the_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/db");
    let env = [
        ("SESSION_TYPE", "sqlalchemy"),
        ("SESSION_SQLALCHEMY", url.as_str()),
        ("SESSION_CONNECT_TIMEOUT", "3"),
    ];
    let run = sessionctl(dir.path(), &env, &["ping"]);
    assert_down(
        &run,
        "postgres",
        &format!("postgres://app:***@127.0.0.1:{port}/db"),
    );
    // A refused connection fails at once; the bound is the connect timeout,
    // which leaves a loaded machine seconds to start the process.
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");

    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let env = [
        ("SESSION_TYPE", "redis"),
        ("SESSION_REDIS", url.as_str()),
        ("SESSION_CONNECT_TIMEOUT", "3"),
    ];
    let run = sessionctl(dir.path(), &env, &["ping", "--json"]);
    assert_down_json(&run, "redis", &format!("redis://:***@127.0.0.1:{port}/0"));
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
}

fn assert_down_json(run: &Run, backend: &str, redacted_url: &str) {
    assert_eq!(run.code, 4, "{run:?}");
    let json = run.json();
    assert_eq!(json["error"]["kind"], "backend", "{run:?}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(backend) && message.contains(redacted_url),
        "{run:?}"
    );
    assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"));
}

/// A server that accepts connections and never answers: the wait is bounded
/// by the timeouts (connecting, then the first reply), not by the OS.
#[test]
fn a_server_that_never_answers_fails_within_the_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let env = [
        ("SESSION_TYPE", "redis"),
        ("SESSION_REDIS", url.as_str()),
        ("SESSION_CONNECT_TIMEOUT", "0.5"),
        ("SESSION_OPERATION_TIMEOUT", "0.5"),
    ];
    let run = sessionctl(dir.path(), &env, &["ping"]);
    assert_down(&run, "redis", &format!("redis://:***@127.0.0.1:{port}"));
    // The bound is 1 s of timeouts; the rest is slack for a loaded machine.
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
}
