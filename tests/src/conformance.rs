//! The conformance suite: every session behaviour check, written once and run
//! against each framework's demo over real HTTP, for each backend.
//!
//! A backend plugs in by implementing [`Backend`] and adding one
//! [`conformance_suite!`](crate::conformance_suite) line; the test names then
//! read `framework_backend::case` (`framework_backend::header::case` for
//! header transport, [`crate::header`]).

use crate::demo::{DemoApp, Framework};
use crate::http::Client;

pub use crate::backends::Backend;

fn start(framework: Framework, backend: &dyn Backend, extra: &str) -> DemoApp {
    DemoApp::start(framework, &backend.session_toml(extra), &[])
}

/// `/incr` counts up across requests for one client.
pub fn incr_counts_up(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    for expected in 1..=3 {
        let response = client.get("/incr");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, expected.to_string());
        assert!(response.varies_on_cookie());
    }
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
}

/// Two clients never see each other's count.
pub fn clients_are_isolated(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let (mut a, mut b) = (app.client(), app.client());
    a.get("/incr");
    a.get("/incr");
    assert_eq!(b.get("/incr").body, "1");
    assert_eq!(a.get("/read").body, "2");
    assert_ne!(a.session_value(), b.session_value());
}

/// `/plain` never touches the session: no cookie and no `Vary`, with or
/// without a session cookie.
pub fn plain_sends_no_cookie_and_no_vary(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    let fresh = client.get("/plain");
    assert_eq!(fresh.body, "ok");
    assert!(fresh.session_cookie().is_none());
    assert!(!fresh.varies_on_cookie());
    client.get("/incr");
    let with_cookie = client.get("/plain");
    assert!(with_cookie.session_cookie().is_none());
    assert!(!with_cookie.varies_on_cookie());
}

/// Row 5: reading a new, empty session stores nothing and sets no cookie.
pub fn reading_a_new_session_sets_no_cookie(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    let response = client.get("/read");
    assert_eq!(response.body, "0");
    assert!(response.session_cookie().is_none());
    assert!(response.varies_on_cookie());
    assert_eq!(backend.count_records(&app).unwrap_or(0), 0);
}

/// Row 9: an unmodified permanent session gets a fresh `Expires`, and the value
/// is unchanged; row 10: with refresh off, nothing is sent.
pub fn read_refreshes_only_the_cookie(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    client.get("/incr");
    let sid = client.session_value().map(str::to_owned);
    let response = client.get("/read");
    assert_eq!(response.body, "1");
    let cookie = response
        .session_cookie()
        .expect("a permanent session's cookie is refreshed");
    assert!(cookie.contains("Expires="));
    assert_eq!(client.session_value().map(str::to_owned), sid, "same sid");

    let app = start(framework, backend, "refresh_each_request = false");
    let mut client = app.client();
    client.get("/incr");
    assert!(client.get("/read").session_cookie().is_none());
}

/// Row 3: `/clear` deletes the record and sends a deletion cookie with the same
/// attributes as the session cookie.
pub fn clear_deletes_the_record_and_the_cookie(framework: Framework, backend: &dyn Backend) {
    let extra = "cookie_domain = \"127.0.0.1\"\ncookie_path = \"/\"\ncookie_samesite = \"Strict\"";
    let app = start(framework, backend, extra);
    let mut client = app.client();
    let set = client.get("/incr").session_cookie().unwrap().to_owned();
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
    let response = client.post("/clear");
    assert_eq!(response.status, 204);
    let deletion = response.session_cookie().expect("a deletion cookie");
    assert!(deletion.starts_with("session=;"));
    assert!(deletion.contains("Max-Age=0"));
    for attribute in ["Domain=127.0.0.1", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(set.contains(attribute), "{set}");
        assert!(deletion.contains(attribute), "{deletion} lacks {attribute}");
    }
    assert_eq!(backend.count_records(&app).unwrap_or(0), 0);
    assert_eq!(client.get("/read").body, "0");
}

/// Row 6: `/regenerate` moves the data to a new sid and drops the old record.
pub fn regenerate_changes_the_sid_and_keeps_the_data(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    client.get("/incr");
    client.get("/incr");
    let old = client.cookie.clone().unwrap();
    let response = client.post("/regenerate");
    assert_eq!(response.status, 204);
    assert_ne!(client.cookie.clone().unwrap(), old);
    assert_eq!(client.get("/read").body, "2");
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
    let mut replay = app.client();
    replay.cookie = Some(old);
    assert_eq!(replay.get("/read").body, "0", "the old sid is dead");
}

/// Rows 4 and the load rules: garbage, stale, oversized and path-traversal
/// cookies get a fresh session (and a deletion cookie), never a 500, and a
/// client-chosen sid is never adopted.
pub fn bad_cookies_get_a_fresh_session(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let stale = "A".repeat(43);
    let huge = "x".repeat(5000);
    for bad in [
        "garbage!!",
        stale.as_str(),
        huge.as_str(),
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "../../../../etc/passwd",
        "",
    ] {
        let mut client = app.client();
        client.cookie = Some(format!("session={bad}"));
        let response = client.get("/read");
        assert_eq!(response.status, 200, "cookie {bad:?}");
        assert_eq!(response.body, "0");
        if !bad.is_empty() {
            let deletion = response
                .session_cookie()
                .expect("a deletion cookie for a stale cookie");
            assert!(deletion.contains("Max-Age=0"), "{deletion}");
        }
        client.cookie = Some(format!("session={bad}"));
        assert_eq!(client.get("/incr").body, "1");
        assert_ne!(
            client.session_value(),
            Some(bad),
            "a client-chosen sid was adopted"
        );
    }
}

/// The key-value routes: strings as text, missing keys 404, delete.
pub fn kv_routes_store_and_delete_values(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    assert_eq!(client.get("/kv/name").status, 404);
    assert_eq!(client.put("/kv/name", "Ada Lovelace").status, 204);
    assert_eq!(client.get("/kv/name").body, "Ada Lovelace");
    client.get("/incr");
    assert_eq!(
        client.get("/kv/count").body,
        "1",
        "non-strings come back as JSON text"
    );
    assert_eq!(client.delete("/kv/name").status, 204);
    assert_eq!(client.get("/kv/name").status, 404);
}

/// `/permanent/false` gives a browser-session cookie; `true` one with Expires.
pub fn permanent_flag_controls_expires(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.client();
    client.get("/incr");
    let response = client.post("/permanent/false");
    let cookie = response
        .session_cookie()
        .expect("changing the flag rewrites");
    assert!(!cookie.contains("Expires"), "{cookie}");
    assert!(
        client.get("/read").session_cookie().is_none(),
        "non-permanent: no refresh cookie"
    );
    let cookie = client
        .post("/permanent/true")
        .session_cookie()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Expires="));
    assert_eq!(client.get("/read").body, "1");
}

/// A signed cookie carries a `.`, verifies, and a tampered one is refused.
pub fn signed_cookies_verify(framework: Framework, backend: &dyn Backend) {
    let extra = "use_signer = true\nsecret_key = \"a-test-secret-that-is-long-enough-0123\"";
    let app = start(framework, backend, extra);
    let mut client = app.client();
    client.get("/incr");
    let value = client.session_value().unwrap().to_owned();
    assert!(value.contains('.'));
    assert_eq!(client.get("/incr").body, "2");
    let mut forged = app.client();
    let (sid, _) = value.rsplit_once('.').unwrap();
    forged.cookie = Some(format!("session={sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(forged.get("/read").body, "0");
    let mut unsigned = app.client();
    unsigned.cookie = Some(format!("session={sid}"));
    assert_eq!(unsigned.get("/read").body, "0");
}

/// A fresh client through the whole Flask-Session test script.
pub fn flask_session_script(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client: Client = app.client();
    assert_eq!(client.get("/kv/value").status, 404);
    assert!(!client.get("/plain").varies_on_cookie());
    client.put("/kv/value", "42");
    let read = client.get("/kv/value");
    assert_eq!(read.body, "42");
    assert!(read.varies_on_cookie());
    client.put("/kv/value", "43");
    assert_eq!(client.get("/kv/value").body, "43");
    client.delete("/kv/value");
    assert_eq!(client.get("/kv/value").status, 404);
}

/// Generates one `#[test]` per conformance case for a framework and backend.
/// Attributes after the backend go on every case, for example
/// `#[ignore = "needs live servers: run scripts/test.sh"]` for a backend that
/// needs a server.
#[macro_export]
macro_rules! conformance_suite {
    ($module:ident, $framework:expr, $backend:expr $(, #[$attr:meta])* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::*;
            $crate::conformance_suite!(@module hostile [$(#[$attr])*] $framework, $backend;
                login_after_clear_leaves_a_planted_sid_behind,
                foreign_cookie_bytes_never_hide_the_session,
                a_sid_too_long_for_the_store_is_an_invalid_cookie,
                hostile_session_headers_never_5xx,
            );
            $crate::conformance_suite!(@submodule header [$(#[$attr])*] $framework, $backend;
                a_fresh_session_is_issued_in_the_header,
                the_count_is_carried_by_the_header,
                an_unknown_sid_is_not_adopted,
                garbage_gives_a_fresh_session_never_a_5xx,
                clear_sends_an_empty_header,
                regenerate_sends_the_new_sid,
                a_header_request_never_gets_a_set_cookie,
                cookie_clients_are_unchanged_with_the_header_enabled,
            );
            $crate::conformance_suite!(@module concurrent_writes [$(#[$attr])*] $framework, $backend;
                parallel_writes_of_one_client_all_survive,
                a_logout_during_a_slow_write_stays_logged_out,
                a_regenerate_during_a_slow_write_keeps_the_old_sid_dead,
            );
            $crate::conformance_suite!(@module owners [$(#[$attr])*] $framework, $backend;
                devices_are_listed_and_logged_out_everywhere,
                a_slow_write_cannot_bring_back_a_revoked_session,
                a_busy_session_ends_at_its_absolute_lifetime,
            );
            $crate::conformance_suite!(@cases [$(#[$attr])*] $framework, $backend;
                incr_counts_up,
                clients_are_isolated,
                plain_sends_no_cookie_and_no_vary,
                reading_a_new_session_sets_no_cookie,
                read_refreshes_only_the_cookie,
                clear_deletes_the_record_and_the_cookie,
                regenerate_changes_the_sid_and_keeps_the_data,
                bad_cookies_get_a_fresh_session,
                kv_routes_store_and_delete_values,
                permanent_flag_controls_expires,
                signed_cookies_verify,
                flask_session_script,
            );
        }
    };
    (@cases $attrs:tt $framework:expr, $backend:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::conformance_suite!(@case $attrs $framework, $backend, $case);
        )*
    };
    (@submodule $module:ident $attrs:tt $framework:expr, $backend:expr; $($case:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::conformance_suite!(@module $module $attrs $framework, $backend; $($case),*);
        }
    };
    (@module $module:ident $attrs:tt $framework:expr, $backend:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::conformance_suite!(@module_case $module $attrs $framework, $backend, $case);
        )*
    };
    (@module_case $module:ident [$(#[$attr:meta])*] $framework:expr, $backend:expr, $case:ident) => {
        #[test]
        $(#[$attr])*
        fn $case() {
            $crate::$module::$case($framework, &$backend);
        }
    };
    (@case [$(#[$attr:meta])*] $framework:expr, $backend:expr, $case:ident) => {
        #[test]
        $(#[$attr])*
        fn $case() {
            $crate::conformance::$case($framework, &$backend);
        }
    };
}
