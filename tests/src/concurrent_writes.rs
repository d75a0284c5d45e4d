//! Concurrent requests of one client over real HTTP, run by the conformance
//! suite against each framework's demo on every backend: writes that overlap
//! never lose each other's changes, and a session ended while a slow write
//! is in flight stays ended (`write_mode = "merge"`, the default).

use std::thread;
use std::time::Duration;

use crate::backends::Backend;
use crate::demo::{DemoApp, Framework};
use crate::http::{Client, Response};

fn start(framework: Framework, backend: &dyn Backend) -> DemoApp {
    DemoApp::start(framework, &backend.session_toml(""), &[])
}

/// A client holding `cookie`, as a second tab of the same browser.
fn tab(app: &DemoApp, cookie: &str) -> Client {
    let mut client = app.client();
    client.cookie = Some(cookie.to_owned());
    client
}

/// A slow write in flight: `PUT /kv/{key}?delay_ms={ms}` on a thread.
fn slow_put(app: &DemoApp, cookie: &str, key: &str, ms: u64) -> thread::JoinHandle<Response> {
    let mut client = tab(app, cookie);
    let path = format!("/kv/{key}?delay_ms={ms}");
    thread::spawn(move || client.put(&path, "late"))
}

/// 16 parallel `PUT /kv/k{i}?delay_ms=300` with one cookie: every key reads
/// back (last-writer-wins on the whole map keeps about one of them).
pub fn parallel_writes_of_one_client_all_survive(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    let cookie = client.cookie.clone().expect("a session cookie");
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let mut tab = tab(&app, &cookie);
            thread::spawn(move || tab.put(&format!("/kv/k{i}?delay_ms=300"), &format!("v{i}")))
        })
        .collect();
    for writer in writers {
        let response = writer.join().expect("a writer thread");
        assert_eq!(response.status, 204, "{}", response.body);
    }
    for i in 0..16 {
        let read = client.get(&format!("/kv/k{i}"));
        assert_eq!(read.status, 200, "k{i} was lost");
        assert_eq!(read.body, format!("v{i}"));
    }
    assert_eq!(client.get("/read").body, "1", "an untouched key survives");
}

/// A logout (`POST /clear`) while a slow write is in flight: the old sid
/// stays dead, and the slow response does not re-issue it.
pub fn a_logout_during_a_slow_write_stays_logged_out(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    let cookie = client.cookie.clone().expect("a session cookie");
    let slow = slow_put(&app, &cookie, "late", 600);
    thread::sleep(Duration::from_millis(200));
    let logout = client.post("/clear");
    assert_eq!(logout.status, 204);
    let late = slow.join().expect("the slow writer");
    assert_eq!(late.status, 204, "{}", late.body);
    if let Some(set_cookie) = late.session_cookie() {
        assert!(
            !set_cookie.starts_with(&format!("{cookie};")),
            "the slow write re-issued the ended sid: {set_cookie}"
        );
    }
    let mut replay = tab(&app, &cookie);
    assert_eq!(
        replay.get("/kv/late").status,
        404,
        "the ended session came back"
    );
    let mut replay = tab(&app, &cookie);
    assert_eq!(replay.get("/read").body, "0");
}

/// A regenerate while a slow write is in flight: the old sid stays dead,
/// and the new sid keeps the data.
pub fn a_regenerate_during_a_slow_write_keeps_the_old_sid_dead(
    framework: Framework, backend: &dyn Backend,
) {
    let app = start(framework, backend);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    let old = client.cookie.clone().expect("a session cookie");
    let slow = slow_put(&app, &old, "late", 600);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(client.post("/regenerate").status, 204);
    let new = client.cookie.clone().expect("the new sid");
    assert_ne!(new, old);
    let late = slow.join().expect("the slow writer");
    assert_eq!(late.status, 204, "{}", late.body);
    if let Some(set_cookie) = late.session_cookie() {
        assert!(
            !set_cookie.starts_with(&format!("{old};")),
            "the slow write re-issued the old sid: {set_cookie}"
        );
    }
    let mut replay = tab(&app, &old);
    assert_eq!(replay.get("/read").body, "0", "the old sid came back");
    assert_eq!(client.get("/read").body, "1", "the new sid lost the data");
}
