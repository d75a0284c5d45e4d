//! Header transport (`header_name`, design §14) over real HTTP, run by the
//! conformance suite against each framework's demo on every backend, the
//! demos configured through `Session.toml` as any app is: an API client
//! carries its sid in `X-Session-Id`, in and out, never gets a
//! `Set-Cookie`, and shares the deployment with cookie clients, which see no
//! difference.

use crate::backends::Backend;
use crate::demo::{DemoApp, Framework};
use crate::http::{Client, Response};

/// The header the demos are configured with.
pub const HEADER: &str = "X-Session-Id";
const SIGNER: &str = "use_signer = true\nsecret_key = \"a-test-secret-that-is-long-enough-0123\"";

fn start(framework: Framework, backend: &dyn Backend, extra: &str) -> DemoApp {
    let toml = backend.session_toml(&format!("header_name = \"{HEADER}\"\n{extra}"));
    DemoApp::start(framework, &toml, &[])
}

/// The session header a response carries, asserting that a header request's
/// response has no `Set-Cookie` at all and varies on the header.
fn header_of(response: &Response) -> Option<&str> {
    assert!(
        response.header_all("set-cookie").is_empty(),
        "a header request got a Set-Cookie: {response:?}"
    );
    response.header(&HEADER.to_ascii_lowercase())
}

/// `GET /incr` over the header; the count it answers.
fn incr(client: &mut Client) -> u32 {
    let response = client.get("/incr");
    assert_eq!(response.status, 200, "{response:?}");
    let sid = header_of(&response).expect("a write sends the sid in the header");
    assert!(!sid.is_empty(), "{response:?}");
    assert!(response.varies_on(HEADER), "{response:?}");
    response.body.parse().unwrap()
}

/// A fresh API client sends the header empty: `/incr` issues a session in
/// the header, never in a cookie, and stores one record.
pub fn a_fresh_session_is_issued_in_the_header(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.header_client(HEADER);
    let response = client.get("/incr");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "1");
    let sid = header_of(&response).expect("the sid in the header");
    assert!(
        sid.len() >= 43 && !sid.contains('.'),
        "an unsigned sid: {sid}"
    );
    assert!(response.varies_on(HEADER), "{response:?}");
    assert!(!response.varies_on_cookie(), "{response:?}");
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
}

/// The count goes up request after request on the header alone, with the
/// signer off and on (a signed value is the cookie value's format).
pub fn the_count_is_carried_by_the_header(framework: Framework, backend: &dyn Backend) {
    for (extra, signed) in [("", false), (SIGNER, true)] {
        let app = start(framework, backend, extra);
        let mut client = app.header_client(HEADER);
        assert_eq!(incr(&mut client), 1);
        let sid = client.header_value().unwrap().to_owned();
        assert_eq!(sid.contains('.'), signed, "{sid}");
        for expected in 2..=4 {
            assert_eq!(incr(&mut client), expected, "signed: {signed}");
            assert_eq!(client.header_value(), Some(sid.as_str()), "same sid");
        }
        let read = client.get("/read");
        assert_eq!(read.body, "4");
        assert!(header_of(&read).is_some(), "a permanent session's refresh");
        assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
        let mut other = app.header_client(HEADER);
        assert_eq!(incr(&mut other), 1, "clients are isolated");
    }
}

/// A well-formed sid the store does not hold is never adopted: a read
/// answers a fresh session and an empty header, a write a new sid.
pub fn an_unknown_sid_is_not_adopted(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let planted = "A".repeat(43);
    let mut client = app.header_client(HEADER);
    client.session_header = Some((HEADER.to_owned(), planted.clone()));
    let read = client.get("/read");
    assert_eq!(read.status, 200);
    assert_eq!(read.body, "0");
    assert_eq!(header_of(&read), Some(""), "told to forget it");
    client.session_header = Some((HEADER.to_owned(), planted.clone()));
    assert_eq!(incr(&mut client), 1);
    assert_ne!(client.header_value(), Some(planted.as_str()), "adopted");
    assert_eq!(incr(&mut client), 2);
}

/// Garbage in the header, with the signer off and on: a fresh session and
/// an empty header, never a 5xx; the next write issues a real sid.
pub fn garbage_gives_a_fresh_session_never_a_5xx(framework: Framework, backend: &dyn Backend) {
    for extra in ["", SIGNER] {
        let app = start(framework, backend, extra);
        let mut real = app.header_client(HEADER);
        assert_eq!(incr(&mut real), 1);
        let sid = real.header_value().unwrap().to_owned();
        let unsigned = sid.split('.').next().unwrap().to_owned();
        let huge = "x".repeat(5000);
        let forged = format!("{unsigned}.AAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let cookie_pair = format!("session={sid}");
        let mut garbage = vec![
            "garbage!!",
            huge.as_str(),
            "../../../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd",
            forged.as_str(),
            cookie_pair.as_str(),
            "\"quoted\"",
        ];
        if !extra.is_empty() {
            garbage.push(&unsigned);
        }
        for bad in garbage {
            let mut client = app.header_client(HEADER);
            client.session_header = Some((HEADER.to_owned(), bad.to_owned()));
            let read = client.get("/read");
            assert_eq!(read.status, 200, "{bad:?}: {read:?}");
            assert_eq!(read.body, "0", "{bad:?}");
            assert_eq!(header_of(&read), Some(""), "{bad:?}");
            client.session_header = Some((HEADER.to_owned(), bad.to_owned()));
            assert_eq!(incr(&mut client), 1, "{bad:?}");
            assert_ne!(client.header_value(), Some(bad), "adopted {bad:?}");
        }
        assert_eq!(incr(&mut real), 2, "the real session is untouched");
    }
}

/// `POST /clear` ends the session: an empty header, the record deleted.
pub fn clear_sends_an_empty_header(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.header_client(HEADER);
    incr(&mut client);
    let sid = client.header_value().unwrap().to_owned();
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
    let response = client.post("/clear");
    assert_eq!(response.status, 204);
    assert_eq!(header_of(&response), Some(""), "{response:?}");
    assert_eq!(backend.count_records(&app).unwrap_or(0), 0);
    assert_eq!(client.get("/read").body, "0");
    let mut replay = app.header_client(HEADER);
    replay.session_header = Some((HEADER.to_owned(), sid));
    assert_eq!(replay.get("/read").body, "0", "the cleared sid is dead");
}

/// `POST /regenerate` sends the new sid in the header; the old one is dead.
pub fn regenerate_sends_the_new_sid(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut client = app.header_client(HEADER);
    incr(&mut client);
    incr(&mut client);
    let old = client.header_value().unwrap().to_owned();
    let response = client.post("/regenerate");
    assert_eq!(response.status, 204);
    let new = header_of(&response).expect("the new sid").to_owned();
    assert!(!new.is_empty());
    assert_ne!(new, old);
    assert_eq!(client.get("/read").body, "2", "the data moved");
    assert_eq!(backend.count_records(&app).unwrap_or(1), 1);
    let mut replay = app.header_client(HEADER);
    replay.session_header = Some((HEADER.to_owned(), old));
    assert_eq!(replay.get("/read").body, "0", "the old sid is dead");
}

/// No route ever answers a header request with a `Set-Cookie`, not even
/// one that also sends a valid session cookie: its cookies are not read.
pub fn a_header_request_never_gets_a_set_cookie(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let mut browser = app.client();
    assert_eq!(browser.get("/incr").body, "1");
    assert_eq!(browser.get("/incr").body, "2");
    let mut client = app.header_client(HEADER);
    client.cookie = browser.cookie.clone();
    let routes: [(&str, &str, &str); 10] = [
        ("GET", "/plain", ""),
        ("GET", "/read", ""),
        ("GET", "/incr", ""),
        ("PUT", "/kv/name", "Ada"),
        ("GET", "/kv/name", ""),
        ("POST", "/permanent/false", ""),
        ("POST", "/permanent/true", ""),
        ("POST", "/regenerate", ""),
        ("DELETE", "/kv/name", ""),
        ("POST", "/clear", ""),
    ];
    for (method, path, body) in routes {
        client.cookie = browser.cookie.clone();
        let response = client.send(method, path, body).unwrap();
        assert!(response.status < 300, "{method} {path}: {response:?}");
        header_of(&response);
        if path == "/incr" {
            assert_eq!(response.body, "1", "the cookie's session was used");
        }
    }
    assert_eq!(
        browser.get("/read").body,
        "2",
        "the browser's session is untouched"
    );
}

/// With header transport on, a cookie client is served as before: its
/// session in a cookie, `Vary: Cookie` (and the header, which decides which
/// session answers), no session header, a deletion cookie on clear; and a
/// browser and an API client of one deployment never see each other's data.
pub fn cookie_clients_are_unchanged_with_the_header_enabled(
    framework: Framework, backend: &dyn Backend,
) {
    let app = start(framework, backend, "");
    let mut browser = app.client();
    let mut api = app.header_client(HEADER);
    for expected in 1..=3 {
        let response = browser.get("/incr");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, expected.to_string());
        assert!(response.session_cookie().is_some(), "{response:?}");
        assert!(response.varies_on_cookie(), "{response:?}");
        assert!(response.varies_on(HEADER), "{response:?}");
        assert_eq!(response.header(&HEADER.to_ascii_lowercase()), None);
        assert_eq!(incr(&mut api), expected);
    }
    let plain = browser.get("/plain");
    assert!(plain.session_cookie().is_none() && plain.header("vary").is_none());
    let deletion = browser.post("/clear");
    assert!(deletion.session_cookie().unwrap().contains("Max-Age=0"));
    assert_eq!(deletion.header(&HEADER.to_ascii_lowercase()), None);
    assert_eq!(browser.get("/read").body, "0");
    assert_eq!(incr(&mut api), 4, "the API client's session is its own");
}
