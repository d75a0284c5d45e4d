//! `show`: a session written through the core, by its raw sid or its signed
//! cookie value, as JSON with bytes in base64 and timestamps in RFC 3339.

use session::{Bytes, SessionMap, Timestamp};
use time::macros::datetime;

use crate::support::{manager, runtime, sessionctl};

const SECRET: &str = "a-secret-key-of-at-least-32-bytes!!";

/// A session with text, bytes and a timestamp, written through the core;
/// returns the cookie value.
fn write_session(env: &[(&str, &str)]) -> String {
    let rt = runtime();
    rt.block_on(async {
        let manager = manager(env).await;
        let mut map = SessionMap::new();
        map.insert("user", "ada").unwrap();
        map.insert("blob", &Bytes(vec![0, 1, 2, 255])).unwrap();
        map.insert("seen", &Timestamp(datetime!(2024-05-06 07:08:09 UTC)))
            .unwrap();
        manager.create(&map).await.unwrap()
    })
}

fn assert_session(session: &serde_json::Value) {
    assert_eq!(session["user"], "ada", "{session}");
    assert_eq!(session["blob"], "AAEC/w==", "{session}");
    assert_eq!(session["seen"], "2024-05-06T07:08:09Z", "{session}");
    assert_eq!(session["_permanent"], true, "{session}");
}

fn shows_by_cookie_and_by_sid(env: &[(&str, &str)], signed: bool) {
    let cookie = write_session(env);
    let sid = cookie.split('.').next().unwrap().to_owned();
    assert_eq!(cookie.contains('.'), signed);
    let dir = tempfile::tempdir().unwrap();

    let run = sessionctl(dir.path(), env, &["show", &cookie]).ok();
    let shown: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_session(&shown);
    assert!(!run.stdout.contains(&sid), "the sid is not printed");

    let json = sessionctl(dir.path(), env, &["show", &sid, "--json"])
        .ok()
        .json();
    assert_eq!(json["found"], true);
    assert_session(&json["session"]);
}

/// A session whose sid starts with `-` (one in 64 do: base64url), written
/// through the core until one does (deleting the others); returns its
/// cookie value.
fn write_session_with_a_hyphen_sid(env: &[(&str, &str)]) -> String {
    runtime().block_on(async {
        let manager = manager(env).await;
        let mut map = SessionMap::new();
        map.insert("user", "ada").unwrap();
        for _ in 0..4096 {
            let cookie = manager.create(&map).await.unwrap();
            if cookie.starts_with('-') {
                return cookie;
            }
            // Each miss is removed: the filesystem store refuses new
            // sessions past its file threshold (500).
            let sid = cookie.split('.').next().unwrap();
            manager.delete_by_id(sid).await.unwrap();
        }
        panic!("no sid of 4096 started with '-'");
    })
}

fn no_such_session(env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let unknown = "A".repeat(43);
    let run = sessionctl(dir.path(), env, &["show", &unknown]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no such session"), "{run:?}");
    let run = sessionctl(dir.path(), env, &["show", "not a sid", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.json()["error"]["kind"], "not_found");
}

#[test]
fn filesystem_signed() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let env = [
        ("SESSION_TYPE", "filesystem"),
        ("SESSION_FILE_DIR", sessions.to_str().unwrap()),
        ("SESSION_USE_SIGNER", "true"),
        ("SECRET_KEY", SECRET),
    ];
    shows_by_cookie_and_by_sid(&env, true);
    no_such_session(&env);

    let cookie = write_session_with_a_hyphen_sid(&env);
    let sid = cookie.split('.').next().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for value in [cookie.as_str(), sid] {
        let run = sessionctl(dir.path(), &env, &["show", value]).ok();
        assert!(run.stdout.contains("\"ada\""), "{run:?}");
    }
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): Redis on 6379"]
fn redis_json_format() {
    let prefix = crate::support::unique("cli:");
    let env = [
        ("SESSION_TYPE", "redis"),
        ("SESSION_KEY_PREFIX", &prefix),
        ("SESSION_SERIALIZATION_FORMAT", "json"),
    ];
    shows_by_cookie_and_by_sid(&env, false);
    no_such_session(&env);
}
