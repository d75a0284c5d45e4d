//! The shapes a value must have: cookie names and domains, header names,
//! `host:port`, and
//! the URLs of each backend. Pure predicates; the messages are `validate`'s.

/// An RFC 9110 token: visible ASCII except the separators. Cookie names
/// (RFC 6265) and header field names are both tokens.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// An RFC 6265 cookie-name token.
pub(crate) fn valid_cookie_name(name: &str) -> bool {
    is_token(name)
}

/// An RFC 9110 header field name.
pub(crate) fn valid_header_name(name: &str) -> bool {
    is_token(name)
}

/// Header names the session header must not take, compared without case:
/// the ones a browser's `fetch` refuses to send (so a browser-based client
/// could never send the sid), the ones this crate or the framework already
/// write on a session response (`Set-Cookie`, `Vary`, the body's framing),
/// and the ones proxies and CORS give a meaning of their own.
const RESERVED_HEADER_NAMES: &[&str] = &[
    "accept-charset",
    "accept-encoding",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "cookie2",
    "date",
    "dnt",
    "expect",
    "host",
    "keep-alive",
    "origin",
    "referer",
    "set-cookie",
    "set-cookie2",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "vary",
    "via",
];

/// Prefixes of reserved header names: `Proxy-*` and `Sec-*` (which `fetch`
/// refuses), and CORS's `Access-Control-*`.
const RESERVED_HEADER_PREFIXES: &[&str] = &["proxy-", "sec-", "access-control-"];

/// A header name the session header must not take (see [`RESERVED_HEADER_NAMES`]).
pub(crate) fn reserved_header_name(name: &str) -> bool {
    RESERVED_HEADER_NAMES
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
        || RESERVED_HEADER_PREFIXES.iter().any(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        })
}

pub(crate) fn valid_domain(domain: &str) -> bool {
    let d = domain.strip_prefix('.').unwrap_or(domain);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// `host:port`, `[v6]:port`; the port may be optional.
pub(crate) fn valid_host_port(s: &str, require_port: bool) -> bool {
    let (host_ok, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => return false,
            },
        };
        (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        match s.split_once(':') {
            Some((host, port)) => (valid_host(host), Some(port)),
            None => (valid_host(s), None),
        }
    };
    host_ok && port.map_or(!require_port, valid_port)
}

pub(crate) fn valid_redis_url(u: &str) -> bool {
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    match url.scheme() {
        "redis" | "rediss" => url.host_str().is_some_and(|h| !h.is_empty()),
        "redis+unix" | "unix" => url.path().len() > 1,
        _ => false,
    }
}

/// A Sentinel is reached over TCP: `redis://` or `rediss://` with a host (a
/// Sentinel answers with the master's IP and port, which a socket path
/// cannot follow).
pub(crate) fn valid_sentinel_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|url| {
        matches!(url.scheme(), "redis" | "rediss") && url.host_str().is_some_and(|h| !h.is_empty())
    }) && valid_redis_url(u)
}

pub(crate) fn valid_mongo_url(u: &str) -> bool {
    let (srv, rest) = if let Some(rest) = u.strip_prefix("mongodb+srv://") {
        (true, rest)
    } else if let Some(rest) = u.strip_prefix("mongodb://") {
        (false, rest)
    } else {
        return false;
    };
    let authority = rest.find(['/', '?']).map_or(rest, |end| &rest[..end]);
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hosts.is_empty() {
        return false;
    }
    if srv {
        valid_host(hosts)
    } else {
        hosts.split(',').all(|h| valid_host_port(h, false))
    }
}

pub(crate) fn valid_sql_url(u: &str) -> bool {
    let lower = u.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("sqlite:") {
        return !rest.trim_start_matches('/').is_empty();
    }
    ["postgres://", "postgresql://", "mysql://", "mariadb://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        && url::Url::parse(u).is_ok()
}

pub(crate) fn valid_mongo_db(db: &str) -> bool {
    !db.is_empty()
        && db.len() <= 63
        && !db.contains([
            '/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0',
        ])
}
