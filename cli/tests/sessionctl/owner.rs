//! `sessions` and `revoke` need the owner index, which this build lacks:
//! they say so and exit 5.

use crate::support::sessionctl;

#[test]
fn without_the_owner_index_they_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SESSION_TYPE", "memory")];
    for args in [
        &["sessions", "ada"][..],
        &["revoke", "ada", "--all"],
        &["revoke", "ada", "0123456789abcdef0123456789abcdef"],
    ] {
        let run = sessionctl(dir.path(), &env, args);
        assert_eq!(run.code, 5, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("owner index is not available"),
            "{run:?}"
        );
    }
    let run = sessionctl(dir.path(), &env, &["sessions", "ada", "--json"]);
    assert_eq!(run.json()["error"]["kind"], "unsupported");
}
