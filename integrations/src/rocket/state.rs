//! What the fairing leaves in Rocket's state and in each request's local
//! cache, for the guards, the sentinel and the test helpers to find. The
//! fairing and the guards both import this module, never each other.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use rocket::Request;
use session::{RequestSession, SessionManager};

/// Marks that the fairing ignited, for the guards and the sentinel; it holds
/// the manager the guards open sessions with.
#[derive(Debug)]
pub(super) struct Installed(pub(super) SessionManager);

/// How many requests of this process hold an opened session: from the
/// guard's opening until the request, and its local cache, is dropped.
///
/// Why: Rocket's local cache stores whatever it is asked for, so the
/// fairing's look-up on a request whose session no guard opened would insert
/// an entry, and with it the request's first cache table (some 860
/// instructions on every such response; BENCHMARKS.md, issue 20). When no
/// request holds an opened session, this one holds none either and the
/// look-up is skipped. One count for the process: rockets that share it only
/// skip less often.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// The request's session, opened from its cookies (or its session header)
/// the first time anything asks, and cached for the rest of the request.
struct Cached(Option<RequestSession>);

impl Cached {
    fn opened(request_session: RequestSession) -> Self {
        OPENED.fetch_add(1, Ordering::Relaxed);
        Self(Some(request_session))
    }
}

impl Drop for Cached {
    fn drop(&mut self) {
        if self.0.is_some() {
            OPENED.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Opens the request's session (no I/O), once per request; `None` when the
/// fairing is not installed.
pub(super) fn open<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    let cached = request.local_cache(|| {
        request
            .rocket()
            .state::<Installed>()
            .map_or(Cached(None), |Installed(manager)| {
                Cached::opened(open_from_headers(request, manager))
            })
    });
    cached.0.as_ref()
}

/// The request's session, as its `Cookie` headers (or its cookie jar, or its
/// session header) say.
fn open_from_headers(request: &Request<'_>, manager: &SessionManager) -> RequestSession {
    // Header transport: the core reads the session header's lines only when
    // `header_name` is set, and decides which transport the request uses; a
    // header request never reads a cookie.
    let session_headers: Vec<&[u8]> = manager
        .header_name()
        .map(|name| request.headers().get(name).map(str::as_bytes).collect())
        .unwrap_or_default();
    // Over HTTP the raw `Cookie` headers hold every cookie, duplicates
    // included, and the jar holds nothing more; a local test client's cookies
    // are only in the jar. Rocket drops a header that is not UTF-8 before any
    // adapter sees it; what it keeps is parsed as bytes.
    // Found by walking the request's few headers: a lookup by name hashes the
    // name with SipHash, byte by byte, some 600 instructions (BENCHMARKS.md,
    // issue 20). Names compare without regard to case, as the lookup's do.
    // The walk lends every value from the map (`Borrowed`); were it to copy
    // one, the jar's single value would stand in, and the hostile-cookie
    // conformance test's second session cookie fails.
    let mut headers = request
        .headers()
        .iter()
        .filter_map(|header| match header.value {
            Cow::Borrowed(value) if header.name == "Cookie" => Some(value.as_bytes()),
            _ => None,
        })
        .peekable();
    if headers.peek().is_some() {
        return manager.open_with_header(headers, session_headers);
    }
    let from_jar = request
        .cookies()
        .get(manager.cookie_name())
        .map(|cookie| format!("{}={}", cookie.name(), cookie.value()));
    manager.open_with_header(from_jar.as_deref().map(str::as_bytes), session_headers)
}

/// The session a guard opened in this request, if one did; never opens it.
pub(super) fn opened<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    // A request that opened its session counts in `OPENED` until it is
    // dropped, after its response: its own count is seen here.
    if OPENED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    request.local_cache(|| Cached(None)).0.as_ref()
}
