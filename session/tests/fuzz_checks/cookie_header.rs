//! The `cookie_header` fuzz target's properties: raw `Cookie` header bytes,
//! as both adapters hand them to the core, through `open`, `load` and
//! `finish`.
//!
//! Input layout: `[mode] foreign\nheader\nheader…`. Every header is taken
//! byte for byte (any byte but `\n`), and `foreign` is the value of another
//! app's cookie, any bytes but `;`. With bit 2 of `mode` set, the same lines
//! are also sent as the session header's lines, with header transport on.

use std::sync::Arc;
use std::time::Duration;

use session::config::{SessionType, Settings};
use session::store::memory::MemoryStore;
use session::{SaveHint, SessionManager, SessionMap, SessionStore};

use super::{runtime, LIVE_SID};

/// What one request came to.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// The live record's data was visible.
    live: bool,
    /// The response carried a deletion cookie.
    deletion: bool,
}

/// - `open` + `load` + `finish` never panic and never fail on the memory
///   store, whatever the bytes;
/// - the sid the response sets is the live record's own, or one that appears
///   nowhere in the input: a client-chosen sid is never adopted;
/// - another cookie's bytes change nothing: the same headers, each with a
///   foreign cookie put in front, load the same session and answer the same.
pub fn check_cookie_header(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.split(|&byte| byte == b'\n');
    let foreign: Vec<u8> = lines
        .next()
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|&byte| byte != b';')
        .collect();
    let headers: Vec<Vec<u8>> = lines.map(<[u8]>::to_vec).collect();
    let with_foreign: Vec<Vec<u8>> = headers
        .iter()
        .map(|header| [b"f=", foreign.as_slice(), b"; ", header.as_slice()].concat())
        .collect();
    let write = mode & 1 != 0;

    let plain = request(&headers, write, data);
    let beside_foreign = request(
        &with_foreign,
        write,
        &[data, &with_foreign.concat()].concat(),
    );
    assert_eq!(
        plain, beside_foreign,
        "a foreign cookie changed the outcome"
    );
    if mode & 2 != 0 {
        check_session_header(&headers, write, data);
    }
}

/// The lines as the session header's (header transport on, with a live
/// session cookie beside them that must not be read):
/// - no panic, no failure, and never a `Set-Cookie`;
/// - the live session is seen exactly when there is one line and it is the
///   live sid (whitespace aside): an independent rule;
/// - the header sent back is empty, the live sid, or a sid found nowhere in
///   the input.
fn check_session_header(lines: &[Vec<u8>], write: bool, input: &[u8]) {
    let mut settings = settings();
    settings.header_name = Some("X-Session-Id".to_owned());
    let (manager, store) = manager_with_live(settings);
    let cookie = format!("session={LIVE_SID}");
    runtime().block_on(async {
        seed_live(&store).await;
        let request =
            manager.open_with_header([cookie.as_bytes()], lines.iter().map(Vec::as_slice));
        let session = request.load().await.expect("the memory store never fails");
        let live = session.get::<String>("user").unwrap().is_some();
        let expected = matches!(lines, [only] if only.trim_ascii() == LIVE_SID.as_bytes());
        assert_eq!(live, expected, "the live session seen through {lines:?}");
        if write {
            session.insert("fuzz", &1u8).unwrap();
        }
        let outcome = request.finish(200).await.expect("finish");
        assert_eq!(
            outcome.set_cookie, None,
            "a Set-Cookie for a header request"
        );
        if let Some(header) = &outcome.session_header {
            let value = header.value.as_str();
            assert!(!value.contains(['\r', '\n']), "header injection");
            let in_input = input
                .windows(value.len().max(1))
                .any(|window| window == value.as_bytes());
            let own = live && value == LIVE_SID;
            assert!(value.is_empty() || own || !in_input, "adopted {value:?}");
        }
    });
}

fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::Memory;
    settings
}

fn manager_with_live(settings: Settings) -> (SessionManager, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let manager = SessionManager::new(settings, store.clone()).expect("a manager");
    (manager, store)
}

/// Stores the live session, `user = "ada"`, under [`LIVE_SID`].
async fn seed_live(store: &MemoryStore) {
    let mut live = SessionMap::new();
    live.insert("user", "ada").unwrap();
    let bytes = session::codec::Codec::new(Default::default(), 65536)
        .encode(&live)
        .unwrap();
    store
        .save(
            &format!("session:{LIVE_SID}"),
            &bytes,
            Duration::from_secs(3600),
            SaveHint::New,
        )
        .await
        .unwrap();
}

fn request(headers: &[Vec<u8>], write: bool, input: &[u8]) -> Seen {
    let (manager, store) = manager_with_live(settings());
    runtime().block_on(async {
        seed_live(&store).await;
        let request = manager.open(headers.iter().map(Vec::as_slice));
        let session = request.load().await.expect("the memory store never fails");
        let live = session.get::<String>("user").unwrap().is_some();
        if write {
            session.insert("fuzz", &1u8).unwrap();
        }
        let outcome = request.finish(200).await.expect("finish");
        let mut deletion = false;
        if let Some(set_cookie) = &outcome.set_cookie {
            assert!(!set_cookie.contains(['\r', '\n']), "header injection");
            let value = set_cookie
                .split(';')
                .next()
                .and_then(|pair| pair.strip_prefix("session="))
                .expect("Set-Cookie names the session cookie");
            deletion = value.is_empty();
            let own = live && value == LIVE_SID;
            let in_input = input
                .windows(value.len().max(1))
                .any(|window| window == value.as_bytes());
            assert!(deletion || own || !in_input, "adopted {value:?}");
        }
        Seen { live, deletion }
    })
}
