//! `sessions` and `revoke`, through the manager's owner index. The server
//! backends' indexes are tested by the store contract; here the memory store
//! (empty in a new process) checks the wiring, the output and the exit codes.

use crate::support::sessionctl;

#[test]
fn an_owner_without_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SESSION_TYPE", "memory")];

    let run = sessionctl(dir.path(), &env, &["sessions", "ada"]).ok();
    assert!(
        run.stdout
            .starts_with("0 live sessions of this owner in the memory store"),
        "{run:?}"
    );
    let json = sessionctl(dir.path(), &env, &["sessions", "ada", "--json"])
        .ok()
        .json();
    assert_eq!(json["sessions"], serde_json::json!([]));
    assert_eq!(json["backend"], "memory");

    let json = sessionctl(dir.path(), &env, &["revoke", "ada", "--all", "--json"])
        .ok()
        .json();
    assert_eq!(json["ended"], 0);

    let handle = "0123456789abcdef0123456789ABCDEF";
    let run = sessionctl(dir.path(), &env, &["revoke", "ada", handle]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no live session with handle 0123456789abcdef0123456789abcdef"),
        "{run:?}"
    );
}

#[test]
fn a_bad_handle_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SESSION_TYPE", "memory")];
    let run = sessionctl(dir.path(), &env, &["revoke", "ada", "not-a-handle"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is not a session handle"), "{run:?}");
    let run = sessionctl(
        dir.path(),
        &env,
        &["revoke", "ada", "--all", "0123456789abcdef0123456789abcdef"],
    );
    assert_eq!(run.code, 2, "--all and a handle conflict: {run:?}");
}

/// Two sessions of one owner, logged in through the core, listed by the
/// binary (handles only, never a sid); one revoked by its handle, then the
/// rest with `--all`; another owner's session is untouched.
fn lists_and_revokes(env: &[(&str, &str)]) {
    let owner = crate::support::unique("owner-");
    let other = crate::support::unique("other-");
    let cookies: Vec<String> = crate::support::runtime().block_on(async {
        let manager = crate::support::manager(env).await;
        let mut cookies = Vec::new();
        for who in [&owner, &owner, &other] {
            let request = manager.open([]);
            request.load().await.unwrap().login(who).unwrap();
            let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
            cookies.push(set_cookie.split(';').next().unwrap().to_owned());
        }
        cookies
    });
    let dir = tempfile::tempdir().unwrap();
    let listed = sessionctl(dir.path(), env, &["sessions", &owner, "--json"])
        .ok()
        .json();
    let sessions = listed["sessions"].as_array().expect("a list").clone();
    assert_eq!(sessions.len(), 2, "{listed}");
    for cookie in &cookies {
        let sid = cookie.split('=').nth(1).unwrap();
        assert!(!listed.to_string().contains(sid), "a sid in {listed}");
    }
    let handle = sessions[0]["handle"].as_str().expect("a handle").to_owned();
    let ended = sessionctl(dir.path(), env, &["revoke", &owner, &handle, "--json"])
        .ok()
        .json();
    assert_eq!(ended["ended"], 1, "{ended}");
    let listed = sessionctl(dir.path(), env, &["sessions", &owner, "--json"])
        .ok()
        .json();
    assert_eq!(
        listed["sessions"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let ended = sessionctl(dir.path(), env, &["revoke", &owner, "--all", "--json"])
        .ok()
        .json();
    assert_eq!(ended["ended"], 1, "{ended}");
    let others = sessionctl(dir.path(), env, &["sessions", &other, "--json"])
        .ok()
        .json();
    assert_eq!(
        others["sessions"].as_array().map(Vec::len),
        Some(1),
        "{others}"
    );
}

#[test]
fn filesystem_sessions_and_revoke() {
    let sessions = tempfile::tempdir().unwrap();
    let env = [
        ("SESSION_TYPE", "filesystem"),
        ("SESSION_FILE_DIR", sessions.path().to_str().unwrap()),
    ];
    lists_and_revokes(&env);
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): Redis on 6379"]
fn redis_sessions_and_revoke() {
    let prefix = crate::support::unique("cli:");
    let env = [("SESSION_TYPE", "redis"), ("SESSION_KEY_PREFIX", &prefix)];
    lists_and_revokes(&env);
}
