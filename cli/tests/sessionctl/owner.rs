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
