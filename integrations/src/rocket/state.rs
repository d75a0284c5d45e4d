//! What the fairing leaves in Rocket's state and in each request's local
//! cache, for the guards, the sentinel and the test helpers to find. The
//! fairing and the guards both import this module, never each other.

use std::borrow::Cow;

use rocket::Request;
use session::{RequestSession, SessionManager};

/// Marks that the fairing ignited, for the guards and the sentinel; it holds
/// the manager the guards open sessions with.
#[derive(Debug)]
pub(super) struct Installed(pub(super) SessionManager);

/// The request's session, opened from its cookies (or its session header)
/// the first time anything asks, and cached for the rest of the request.
struct Cached(Option<RequestSession>);

/// Opens the request's session (no I/O), once per request; `None` when the
/// fairing is not installed.
pub(super) fn open<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    let cached = request.local_cache(|| {
        Cached(
            request
                .rocket()
                .state::<Installed>()
                .map(|Installed(manager)| {
                    // Header transport: the core reads the session header's
                    // lines only when `header_name` is set, and decides
                    // which transport the request uses; a header request
                    // never reads a cookie.
                    let session_headers: Vec<&[u8]> = manager
                        .header_name()
                        .map(|name| request.headers().get(name).map(str::as_bytes).collect())
                        .unwrap_or_default();
                    // Over HTTP the raw `Cookie` headers hold every cookie,
                    // duplicates included, and the jar holds nothing more; a
                    // local test client's cookies are only in the jar. Rocket
                    // drops a header that is not UTF-8 before any adapter
                    // sees it; what it keeps is parsed as bytes.
                    // Found by walking the request's few headers: a lookup
                    // by name hashes the name with SipHash, byte by byte,
                    // some 600 instructions (BENCHMARKS.md, issue 20). Names
                    // compare without regard to case, as the lookup's do.
                    // The walk lends every value from the map (`Borrowed`);
                    // were it to copy one, the jar's single value would stand
                    // in, and the hostile-cookie conformance test's second
                    // session cookie fails.
                    let mut headers = request
                        .headers()
                        .iter()
                        .filter_map(|header| match header.value {
                            Cow::Borrowed(value) if header.name == "Cookie" => {
                                Some(value.as_bytes())
                            }
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
                    manager
                        .open_with_header(from_jar.as_deref().map(str::as_bytes), session_headers)
                }),
        )
    });
    cached.0.as_ref()
}

/// The session a guard opened in this request, if one did; never opens it.
pub(super) fn opened<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    request.local_cache(|| Cached(None)).0.as_ref()
}
