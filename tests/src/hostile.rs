//! Hostile inputs over real HTTP, run by the conformance suite against each
//! framework's demo on every backend: a planted sid through a login, foreign
//! and malformed bytes in `Cookie` headers, and a sid too long for the store.
//! RELIABILITY.md's table of hostile inputs points here.

use crate::backends::Backend;
use crate::demo::{DemoApp, Framework};

fn start(framework: Framework, backend: &dyn Backend) -> DemoApp {
    DemoApp::start(framework, &backend.session_toml(""), &[])
}

/// A sid created by one client and planted in another, which then logs in
/// with `clear(); regenerate(); insert(…)`: the login moves to a new sid, and
/// the planted sid is not logged in. The demo's login is `Session::login`,
/// which moves the sid whatever the handler did before.
pub fn login_after_clear_leaves_a_planted_sid_behind(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend);
    let mut attacker = app.client();
    assert_eq!(attacker.get("/incr").body, "1");
    let planted = attacker.cookie.clone().expect("a session cookie");

    let mut victim = app.client();
    victim.cookie = Some(planted.clone());
    let user = format!("victim-{}-{}", std::process::id(), planted.len());
    let login = victim.post(&format!("/login/{user}"));
    assert_eq!(login.status, 204);
    let issued = login.session_cookie().expect("the login sets a cookie");
    assert!(
        !issued.starts_with(&format!("{planted};")),
        "the login kept the planted sid: {issued}"
    );
    assert_ne!(victim.cookie.as_deref(), Some(planted.as_str()));
    assert_eq!(victim.get("/whoami").body, user);

    let whoami = attacker.get("/whoami");
    assert_eq!(whoami.status, 401, "the planted sid is logged in");
}

/// Other cookies' bytes never hide the session cookie: UTF-8 and Latin-1
/// values, several `Cookie` headers, empty values, quotes and a second,
/// malformed session cookie. A session
/// cookie whose value is not a sid is an invalid cookie, never a 5xx.
pub fn foreign_cookie_bytes_never_hide_the_session(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    let session = client.cookie.clone().expect("a session cookie");
    let value = session
        .strip_prefix("session=")
        .expect("the session cookie");

    let utf8 = format!("theme=caf\u{e9}; {session}; lang=\u{65e5}\u{672c}");
    let quoted = format!("a=\"1\"; session=\"{value}\"");
    let empty_first = format!("session=; other=; {session}");
    // A cookie jar keeps one value per name (Rocket's keeps the last): the
    // adapters must read every value the request sent.
    let malformed_after = format!("{session}; session=not*a*sid");
    let cases: [(&str, Vec<&[u8]>); 5] = [
        ("a UTF-8 cookie beside it", vec![utf8.as_bytes()]),
        (
            "several Cookie headers",
            vec![b"theme=dark", session.as_bytes(), b"x=y"],
        ),
        ("a quoted value", vec![quoted.as_bytes()]),
        ("an empty value first", vec![empty_first.as_bytes()]),
        (
            "a malformed session cookie after it",
            vec![malformed_after.as_bytes()],
        ),
    ];
    let mut expected = 1;
    for (case, headers) in cases {
        expected += 1;
        let response = client.get_with_cookie_headers("/incr", &headers);
        assert_eq!(response.status, 200, "{case}");
        assert_eq!(
            response.body,
            expected.to_string(),
            "{case}: the session was hidden"
        );
    }

    // Latin-1 bytes are not UTF-8. Poem hands the adapter the header's
    // bytes; Rocket drops such a header before any adapter sees it (its
    // documented limitation), so there the request is simply anonymous.
    let mut latin1 = b"l=\xe9t\xe9; ".to_vec();
    latin1.extend_from_slice(session.as_bytes());
    let response = client.get_with_cookie_headers("/incr", &[&latin1]);
    assert_eq!(response.status, 200, "Latin-1 beside the session cookie");
    if framework == Framework::Poem {
        expected += 1;
        assert_eq!(
            response.body,
            expected.to_string(),
            "Latin-1 hid the session"
        );
    }

    // A session cookie whose own value is not a sid: a fresh session and,
    // where the adapter sees it, a deletion cookie.
    for bad in [
        &b"session=\xff\xfe\xfd"[..],
        b"session=caf\xc3\xa9caf\xc3\xa9caf\xc3\xa9caf\xc3\xa9",
    ] {
        let mut fresh = app.client();
        let response = fresh.get_with_cookie_headers("/read", &[bad]);
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(bad));
        assert_eq!(response.body, "0");
        let seen = framework == Framework::Poem || std::str::from_utf8(bad).is_ok();
        if seen {
            let deletion = response.session_cookie().expect("a deletion cookie");
            assert!(deletion.contains("Max-Age=0"), "{deletion}");
        }
    }
}

/// A well-formed sid whose store key the backend cannot hold (memcached's 250
/// bytes, the SQL column's 255) is an invalid cookie: a fresh session and a
/// deletion cookie, not a store error on every request.
pub fn a_sid_too_long_for_the_store_is_an_invalid_cookie(
    framework: Framework, backend: &dyn Backend,
) {
    let app = start(framework, backend);
    for length in [244, 250, 256] {
        let long = "A".repeat(length);
        let mut client = app.client();
        client.cookie = Some(format!("session={long}"));
        let response = client.get("/read");
        assert_eq!(response.status, 200, "a {length}-character sid");
        assert_eq!(response.body, "0");
        let deletion = response.session_cookie().expect("a deletion cookie");
        assert!(deletion.contains("Max-Age=0"), "{deletion}");
        client.cookie = Some(format!("session={long}"));
        assert_eq!(client.get("/incr").body, "1");
        assert_ne!(client.session_value(), Some(long.as_str()), "adopted");
        assert_eq!(client.get("/incr").body, "2");
    }
}

/// One request header line: its name and its value's bytes.
type HeaderLine<'a> = (&'a str, &'a [u8]);

/// Hostile session headers, on a demo with header transport on: very long
/// values, bytes that are not UTF-8, NUL, many header lines. None is a 5xx,
/// none reaches a session, and a rejected value gets an empty header, never
/// a `Set-Cookie`. The header's name matches in any case, as HTTP wants.
pub fn hostile_session_headers_never_5xx(framework: Framework, backend: &dyn Backend) {
    use crate::header::HEADER;
    let toml = backend.session_toml(&format!("header_name = \"{HEADER}\""));
    let app = DemoApp::start(framework, &toml, &[]);
    let mut owner = app.header_client(HEADER);
    assert_eq!(owner.get("/incr").body, "1");
    let sid = owner.header_value().unwrap().to_owned();
    let lower = HEADER.to_ascii_lowercase();

    let long = "A".repeat(16 * 1024);
    let longer_than_a_sid = format!("{sid}{}", "A".repeat(300));
    let tab = format!("{sid}\tx");
    let many: Vec<HeaderLine> = (0..100).map(|_| (HEADER, sid.as_bytes())).collect();
    let cases: Vec<(&str, Vec<HeaderLine>)> = vec![
        ("16 KiB", vec![(HEADER, long.as_bytes())]),
        (
            "the sid and more",
            vec![(HEADER, longer_than_a_sid.as_bytes())],
        ),
        ("not UTF-8", vec![(HEADER, b"\xff\xfe\xfd")]),
        (
            "UTF-8 beyond ASCII",
            vec![(HEADER, "s\u{e9}ance\u{65e5}".as_bytes())],
        ),
        ("NUL", vec![(HEADER, b"abc\x00def")]),
        ("a tab inside", vec![(HEADER, tab.as_bytes())]),
        ("100 lines of the sid", many),
        (
            "the sid, then an empty line",
            vec![(HEADER, sid.as_bytes()), (HEADER, b"")],
        ),
    ];
    for (case, headers) in cases {
        let mut client = app.client();
        let response = client.send_with_headers("GET", "/read", &headers).unwrap();
        assert!(response.status < 500, "{case}: {response:?}");
        assert!(
            response.header_all("set-cookie").is_empty(),
            "{case}: {response:?}"
        );
        if response.status != 200 {
            continue; // refused by the HTTP server itself (a NUL byte)
        }
        assert_eq!(response.body, "0", "{case}: a session was reached");
        // Rocket drops a header that is not UTF-8 before any adapter sees
        // it: there the request is an anonymous cookie request.
        let dropped = framework == Framework::Rocket && case == "not UTF-8";
        let expected = if dropped { None } else { Some("") };
        assert_eq!(response.header(&lower), expected, "{case}: {response:?}");
    }

    // The name in another case, and whitespace around the value, still carry
    // the session.
    let padded = format!("  {sid} ");
    for (name, value) in [(lower.as_str(), sid.as_str()), (HEADER, padded.as_str())] {
        let mut client = app.client();
        let response = client
            .send_with_headers("GET", "/read", &[(name, value.as_bytes())])
            .unwrap();
        assert_eq!(response.status, 200, "{name}: {response:?}");
        assert_eq!(response.body, "1", "{name}: {value:?}");
    }
    assert_eq!(owner.get("/incr").body, "2", "the session is untouched");
}
