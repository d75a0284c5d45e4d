//! Sessions that know their owner, over real HTTP, run by the conformance
//! suite against each framework's demo on every backend (design §12, §13):
//! a user's device list, a logout of one device and of all of them, a slow
//! write that cannot bring a revoked session back, and the absolute lifetime.
//! The fixation case is `hostile::login_after_clear_leaves_a_planted_sid_behind`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::backends::Backend;
use crate::demo::{DemoApp, Framework};
use crate::http::Client;

fn start(framework: Framework, backend: &dyn Backend, extra: &str) -> DemoApp {
    DemoApp::start(framework, &backend.session_toml(extra), &[])
}

/// A user name no other test or run uses: the backends' servers are shared,
/// and so are their owner indexes.
fn unique_user(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{test}-{}-{nanos}-{n}", std::process::id())
}

/// A new client logged in as `user`.
fn logged_in(app: &DemoApp, user: &str) -> Client {
    let mut client = app.client();
    let login = client.post(&format!("/login/{user}"));
    assert_eq!(login.status, 204, "{}", login.body);
    assert_eq!(client.get("/whoami").body, user);
    client
}

/// `GET /sessions` as JSON, after checking its status.
fn device_list(client: &mut Client) -> Vec<serde_json::Value> {
    let response = client.get("/sessions");
    assert_eq!(response.status, 200, "{}", response.body);
    serde_json::from_str(&response.body).expect("a JSON array")
}

/// Three devices of one user are listed with exactly one `current` and no
/// raw sid; a logout takes one off; "log out everywhere" ends the rest, and
/// another user's session is untouched.
pub fn devices_are_listed_and_logged_out_everywhere(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "");
    let user = unique_user("devices");
    let mut devices = [
        logged_in(&app, &user),
        logged_in(&app, &user),
        logged_in(&app, &user),
    ];
    let other_user = unique_user("other");
    let mut other = logged_in(&app, &other_user);

    let response = devices[0].get("/sessions");
    let list: Vec<serde_json::Value> = serde_json::from_str(&response.body).unwrap();
    assert_eq!(list.len(), 3, "{}", response.body);
    let current: Vec<_> = list.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1, "{}", response.body);
    for device in &list {
        let id = device["id"].as_str().expect("an id");
        assert_eq!(id.len(), 32, "{id}");
        for field in ["created", "expires"] {
            let at = &device[field];
            assert!(
                at.is_null() || at.as_str().is_some_and(|t| t.ends_with('Z')),
                "{at}"
            );
        }
    }
    for client in &devices {
        let sid = client.session_value().expect("a session cookie");
        let sid = sid.split('.').next().unwrap();
        assert!(
            !response.body.contains(sid),
            "a raw sid in {}",
            response.body
        );
    }
    assert_eq!(devices[0].get("/sessions").status, 200);
    let mine = device_list(&mut devices[1]);
    assert_eq!(mine.iter().filter(|d| d["current"] == true).count(), 1);

    // One device logs out.
    assert_eq!(devices[2].post("/logout").status, 204);
    assert_eq!(devices[2].get("/whoami").status, 401);
    assert_eq!(device_list(&mut devices[0]).len(), 2);

    // Everywhere.
    assert_eq!(devices[0].post("/logout-everywhere").status, 204);
    for client in &mut devices {
        assert_eq!(client.get("/whoami").status, 401);
        assert_eq!(client.get("/sessions").status, 401);
    }
    assert_eq!(other.get("/whoami").body, other_user);
    assert_eq!(device_list(&mut other).len(), 1);
}

/// A slow write in flight while "log out everywhere" runs: its session is
/// gone when it saves, and stays gone.
pub fn a_slow_write_cannot_bring_back_a_revoked_session(
    framework: Framework, backend: &dyn Backend,
) {
    let app = start(framework, backend, "");
    let user = unique_user("revoked");
    let slow_device = logged_in(&app, &user);
    let cookie = slow_device.cookie.clone().expect("a session cookie");
    let mut other_device = logged_in(&app, &user);
    let mut slow_client = app.client();
    slow_client.cookie = Some(cookie.clone());
    let slow = thread::spawn(move || slow_client.put("/kv/late?delay_ms=800", "late"));
    thread::sleep(Duration::from_millis(250));
    assert_eq!(other_device.post("/logout-everywhere").status, 204);
    let late = slow.join().expect("the slow writer");
    assert!(late.status < 500, "{} {}", late.status, late.body);
    if let Some(set_cookie) = late.session_cookie() {
        assert!(
            !set_cookie.starts_with(&format!("{cookie};")),
            "the slow write re-issued the revoked sid: {set_cookie}"
        );
    }
    let mut replay = app.client();
    replay.cookie = Some(cookie.clone());
    assert_eq!(
        replay.get("/whoami").status,
        401,
        "the revoked session came back"
    );
    let mut replay = app.client();
    replay.cookie = Some(cookie);
    assert_eq!(replay.get("/kv/late").status, 404);
}

/// With `absolute_lifetime = "3s"`, a client that keeps its session busy every
/// half second still gets a fresh session (a new sid, the count from 1) once
/// three seconds have passed since it started.
pub fn a_busy_session_ends_at_its_absolute_lifetime(framework: Framework, backend: &dyn Backend) {
    let app = start(framework, backend, "absolute_lifetime = \"3s\"\n");
    let mut client = app.client();
    let started = Instant::now();
    assert_eq!(client.get("/incr").body, "1");
    let first_sid = client.session_value().map(str::to_owned);
    let mut expected = 1;
    loop {
        thread::sleep(Duration::from_millis(500));
        let count: u32 = client.get("/incr").body.parse().expect("a count");
        let elapsed = started.elapsed();
        if count == 1 {
            // `_created` is whole seconds: the end comes between 2 and 4.5 s.
            assert!(
                elapsed >= Duration::from_secs(2),
                "ended early, at {elapsed:?}"
            );
            assert_ne!(client.session_value().map(str::to_owned), first_sid);
            return;
        }
        expected += 1;
        assert_eq!(count, expected, "the busy session lost a count");
        assert!(
            elapsed < Duration::from_millis(4500),
            "the session outlived its 3 s lifetime: {elapsed:?}"
        );
    }
}
