//! Header transport (`header_name`, design §14) through the manager: a
//! request that carries the session header uses it for its whole life, its
//! response carries the header where a cookie request's would carry a
//! cookie, and a request without it is the cookie request it always was.

use session::{FinishOutcome, RequestSession, Transport};

use super::*;

const HEADER: &str = "X-Session-Id";
const SECRET: &str = "a-test-secret-that-is-long-enough-0123";

fn header_settings() -> Settings {
    let mut settings = settings();
    settings.header_name = Some(HEADER.to_owned());
    settings
}

fn signed_header_settings() -> Settings {
    let mut settings = header_settings();
    settings.use_signer = true;
    settings.secret_key = Some(Secret::new(SECRET));
    settings
}

/// A header request: `value` is the session header's one line.
fn open(h: &Harness, value: &str) -> RequestSession {
    h.manager.open_with_header([], [value.as_bytes()])
}

/// The session header's value of an outcome, and that no cookie came with it.
fn header_of(outcome: &FinishOutcome) -> Option<&str> {
    assert_eq!(
        outcome.set_cookie, None,
        "a header request got a Set-Cookie"
    );
    outcome.session_header.as_ref().map(|header| {
        assert_eq!(&*header.name, HEADER);
        header.value.as_str()
    })
}

/// `GET /incr` over the header: the count after it, and the header sent back.
async fn incr(h: &Harness, value: &str) -> (u32, FinishOutcome) {
    let request = open(h, value);
    assert_eq!(request.transport(), Transport::Header);
    let session = request.load().await.unwrap();
    let count = session.get::<u32>("count").unwrap().unwrap_or(0) + 1;
    session.insert("count", &count).unwrap();
    (count, request.finish(200).await.unwrap())
}

/// A header client's first request: an empty header, and a session issued in it.
async fn issued(h: &Harness) -> String {
    let (count, outcome) = incr(h, "").await;
    assert_eq!(count, 1);
    header_of(&outcome).expect("a sid in the header").to_owned()
}

#[tokio::test]
async fn an_empty_header_starts_a_session_issued_in_the_header() {
    let h = harness_with(header_settings());
    let (_, outcome) = incr(&h, "").await;
    let sid = header_of(&outcome).unwrap();
    assert!(session::SessionId::parse(sid).is_some(), "the sid itself");
    assert!(!outcome.vary_cookie);
    assert_eq!(
        outcome.vary(),
        Some(HEADER),
        "a header response varies on it alone"
    );
    assert!(h.manager.load_by_cookie(sid).await.unwrap().is_some());
}

#[tokio::test]
async fn the_header_carries_the_session_from_request_to_request() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    for expected in 2..=4 {
        let (count, outcome) = incr(&h, &sid).await;
        assert_eq!(count, expected);
        assert_eq!(header_of(&outcome), Some(sid.as_str()), "same sid");
    }
    // A read of a permanent session refreshes it, in the header (row 9).
    let request = open(&h, &sid);
    request.load().await.unwrap();
    assert_eq!(
        header_of(&request.finish(200).await.unwrap()),
        Some(sid.as_str())
    );
}

#[tokio::test]
async fn a_header_request_never_reads_the_cookies() {
    let h = harness_with(header_settings());
    let cookie = h.seeded().await;
    let request = h.manager.open_with_header([cookie.as_bytes()], [&b""[..]]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.get::<u32>("count").unwrap(),
        None,
        "the cookie was read"
    );
    session.insert("x", &1).unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert!(header_of(&outcome).is_some());
}

#[tokio::test]
async fn an_unknown_sid_is_never_adopted() {
    let h = harness_with(header_settings());
    let planted = "A".repeat(43);
    let request = open(&h, &planted);
    request.load().await.unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(header_of(&outcome), Some(""), "told to forget it (row 4)");

    let (count, outcome) = incr(&h, &planted).await;
    assert_eq!(count, 1);
    let issued = header_of(&outcome).unwrap();
    assert!(!issued.is_empty());
    assert_ne!(issued, planted, "a client-chosen sid was adopted");
    assert!(h.manager.load_by_id(&planted).await.unwrap().is_none());
}

#[tokio::test]
async fn garbage_gives_a_fresh_session_and_an_empty_header() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    let huge = "x".repeat(100_000);
    let signed_looking = format!("{sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let cookie_pair = format!("session={sid}");
    let cases: [(&str, Vec<&[u8]>); 7] = [
        ("garbage", vec![b"garbage!!"]),
        ("a path", vec![b"../../../../etc/passwd"]),
        ("huge", vec![huge.as_bytes()]),
        ("not UTF-8", vec![b"\xff\xfe\xfd"]),
        (
            "a signature when the signer is off",
            vec![signed_looking.as_bytes()],
        ),
        ("a cookie pair", vec![cookie_pair.as_bytes()]),
        (
            "two lines, both the sid",
            vec![sid.as_bytes(), sid.as_bytes()],
        ),
    ];
    h.store.reset();
    for (case, values) in cases {
        let request = h.manager.open_with_header([], values.iter().copied());
        assert_eq!(request.transport(), Transport::Header, "{case}");
        let session = request.load().await.unwrap();
        assert_eq!(session.get::<u32>("count").unwrap(), None, "{case}");
        let outcome = request.finish(200).await.unwrap();
        assert_eq!(header_of(&outcome), Some(""), "{case}");
    }
    assert_eq!(
        h.store.counts(),
        [0; 4],
        "nothing invalid reaches the store"
    );
    let (count, _) = incr(&h, &sid).await;
    assert_eq!(count, 2, "the real session is untouched");
}

#[tokio::test]
async fn clear_sends_an_empty_header_and_deletes_the_record() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    let request = open(&h, &sid);
    request.load().await.unwrap().clear();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(header_of(&outcome), Some(""));
    assert!(outcome.session_header.unwrap().ends_session());
    assert!(h.manager.load_by_cookie(&sid).await.unwrap().is_none());
}

#[tokio::test]
async fn regenerate_sends_the_new_sid_and_kills_the_old() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    let request = open(&h, &sid);
    request.load().await.unwrap().regenerate().unwrap();
    let outcome = request.finish(200).await.unwrap();
    let new = header_of(&outcome).unwrap().to_owned();
    assert!(!new.is_empty());
    assert_ne!(new, sid);
    assert!(h.manager.load_by_cookie(&sid).await.unwrap().is_none());
    let (count, _) = incr(&h, &new).await;
    assert_eq!(count, 2, "the data moved with it");
}

#[tokio::test]
async fn a_session_ended_during_the_request_gets_an_empty_header() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    let request = open(&h, &sid);
    request.load().await.unwrap().insert("late", &1).unwrap();
    h.manager.delete_by_id(&sid).await.unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(header_of(&outcome), Some(""), "the ended sid came back");
    assert!(h.manager.load_by_id(&sid).await.unwrap().is_none());
}

#[tokio::test]
async fn signed_values_are_the_cookie_values_format() {
    let h = harness_with(signed_header_settings());
    let value = issued(&h).await;
    let (sid, _) = value.rsplit_once('.').expect("signed");
    assert!(h.manager.load_by_cookie(&value).await.unwrap().is_some());
    assert_eq!(incr(&h, &value).await.0, 2);
    let forged = format!("{sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for bad in [sid, forged.as_str()] {
        let (count, outcome) = incr(&h, bad).await;
        assert_eq!(count, 1, "{bad}");
        assert_ne!(header_of(&outcome), Some(bad));
    }
    assert_eq!(incr(&h, &value).await.0, 3);
}

#[tokio::test]
async fn a_fallback_signed_header_is_re_signed_in_the_header() {
    let mut old = signed_header_settings();
    old.secret_key = Some(Secret::new("the-previous-secret-that-is-long-enough"));
    let before = harness_with(old);
    let value = issued(&before).await;
    let mut rotated = signed_header_settings();
    rotated.secret_key_fallbacks = vec![Secret::new("the-previous-secret-that-is-long-enough")];
    let after = SessionManager::new(rotated, before.store.clone()).unwrap();
    let request = after.open_with_header([], [value.as_bytes()]);
    request.load().await.unwrap();
    let outcome = request.finish(200).await.unwrap();
    let resigned = header_of(&outcome).unwrap();
    assert_ne!(resigned, value);
    assert_eq!(
        resigned.split('.').next(),
        value.split('.').next(),
        "same sid"
    );
}

#[tokio::test]
async fn a_request_without_the_header_is_a_cookie_request() {
    let h = harness_with(header_settings());
    let request = h.manager.open_with_header([], []);
    assert_eq!(request.transport(), Transport::Cookie);
    request.load().await.unwrap().insert("count", &1).unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(outcome.session_header, None);
    let cookie = pair(&outcome.set_cookie.clone().unwrap());
    assert!(outcome.vary_cookie);
    assert_eq!(
        outcome.vary(),
        Some("Cookie, X-Session-Id"),
        "whether a request carries the header decides its session"
    );
    let request = h.manager.open_with_header([cookie.as_bytes()], []);
    let session = request.load().await.unwrap();
    assert_eq!(session.get::<u32>("count").unwrap(), Some(1));
}

#[tokio::test]
async fn with_header_transport_off_the_header_is_not_read() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h
        .manager
        .open_with_header([cookie.as_bytes()], [&b"garbage"[..]]);
    assert_eq!(request.transport(), Transport::Cookie);
    assert_eq!(h.manager.header_name(), None);
    let session = request.load().await.unwrap();
    assert_eq!(session.get::<u32>("count").unwrap(), Some(1));
    session.insert("count", &2).unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert!(outcome.set_cookie.is_some());
    assert_eq!(outcome.session_header, None);
    assert_eq!(outcome.vary(), Some("Cookie"));
}

#[tokio::test]
async fn a_session_never_loaded_sends_no_header() {
    let h = harness_with(header_settings());
    let sid = issued(&h).await;
    let outcome = open(&h, &sid).finish(200).await.unwrap();
    assert_eq!(outcome, FinishOutcome::default());
    assert_eq!(outcome.vary(), None);
}

#[tokio::test]
async fn debug_output_never_shows_the_sid() {
    let h = harness_with(signed_header_settings());
    let value = issued(&h).await;
    let sid = value.split('.').next().unwrap();
    let request = open(&h, &value);
    request.load().await.unwrap().insert("count", &5).unwrap();
    let shown_request = format!("{request:?}");
    let outcome = request.finish(200).await.unwrap();
    let shown = format!("{shown_request} {outcome:?}");
    assert!(!shown.contains(sid), "{shown}");
    assert!(shown.contains("Header"), "{shown}");
}
