//! The limit, in Poem: the raw work of a session layer over one
//! `ConnectionManager` (our redis 1), with no middleware. `/read` is one GET;
//! `/incr` is one GET and one SET EX and a `Set-Cookie`; both find the cookie
//! and check the sid's shape first. `/plain` touches nothing. The value is the
//! count as text. Same routes, port, graceful shutdown and logging as the
//! Poem demo.
//!
//! With `RAW_REDIS_WORK=merge` it sends Redis what ours sends with its
//! default settings, still by hand: `/read` is one `GETEX … EX` (the
//! refresh of `refresh_each_request`), and `/incr`'s write is the same
//! conditional-save script as the store's `write_mode = "merge"`, called
//! with `EVALSHA` (loaded at start). It isolates what that work costs Redis
//! and the app from what the session layer costs (BENCHMARKS.md, issue 20).
//!
//! `RAW_REDIS_WORK=contract` does merge's Redis work and also answers what
//! the contract asks of a permanent session with `refresh_each_request`
//! (Flask-Session's default): `Vary: Cookie` on every response that read
//! the session, and on `/read` a `Set-Cookie` that moves the cookie's
//! expiry, as `/incr` already sends; and it stores Flask-Session's record
//! (a msgpack map with `_permanent` and the count, decoded with serde), not
//! the count as text. What is left between ours and this app is the session
//! layer's own cost, not the contract's.

use std::sync::OnceLock;

use poem::http::header::{COOKIE, SET_COOKIE, VARY};
use poem::http::{HeaderValue, StatusCode};
use poem::{get, handler, IntoResponse, Request, Response, Route};
use session::store::redis::redis::{self, aio::ConnectionManager};
use session_bench::{
    decode_record, encode_record, init_logging, load_save_script, new_sid, read_command, redis_url,
    serve_poem, set_cookie, sid_from_cookie_headers, store_key, write_command,
};

static REDIS: OnceLock<ConnectionManager> = OnceLock::new();
/// The conditional-save script's SHA-1, when `RAW_REDIS_WORK=merge` or
/// `contract`.
static MERGE_SCRIPT: OnceLock<String> = OnceLock::new();
/// Whether `RAW_REDIS_WORK=contract`: the responses' `Vary` and refreshed
/// `Set-Cookie` too.
static CONTRACT: OnceLock<bool> = OnceLock::new();

fn contract() -> bool {
    CONTRACT.get().copied().unwrap_or(false)
}

/// Adds `Vary: Cookie` and the session's refreshed cookie, as the contract
/// asks of a response whose request read the session.
fn deliver(response: &mut Response, sid: &str) {
    if contract() {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Cookie"));
    }
    if let Ok(value) = HeaderValue::try_from(set_cookie(sid)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

fn connection() -> ConnectionManager {
    REDIS.get().expect("connected in main").clone()
}

fn sid(req: &Request) -> Option<&str> {
    sid_from_cookie_headers(
        req.headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

async fn get_count(key: &str) -> redis::RedisResult<Option<u32>> {
    read_command(key, MERGE_SCRIPT.get().is_some())
        .query_async(&mut connection())
        .await
}

/// Saves `count` under `key`: `SET … EX`, or with `RAW_REDIS_WORK=merge` the
/// conditional save against the `loaded` value (a new session's key is
/// written with `SET` in both).
async fn save_count(key: &str, count: u32, loaded: Option<u32>) -> redis::RedisResult<()> {
    let conditional = MERGE_SCRIPT.get().map(String::as_str).zip(loaded);
    write_command(key, count, conditional)
        .query_async::<redis::Value>(&mut connection())
        .await
        .map(drop)
}

/// With `contract`: the count in the session's Flask-Session record, and the
/// record as loaded, for the conditional save.
async fn get_record(key: &str) -> redis::RedisResult<Option<(u32, Vec<u8>)>> {
    let record: Option<Vec<u8>> = read_command(key, true)
        .query_async(&mut connection())
        .await?;
    Ok(record.and_then(|record| decode_record(&record).map(|count| (count, record))))
}

/// With `contract`: saves the record of `count` under `key`, conditionally
/// against the `loaded` record (a new session's key is written with `SET`).
async fn save_record(key: &str, count: u32, loaded: Option<&[u8]>) -> redis::RedisResult<()> {
    let conditional = MERGE_SCRIPT.get().map(String::as_str).zip(loaded);
    write_command(key, encode_record(count).as_slice(), conditional)
        .query_async::<redis::Value>(&mut connection())
        .await
        .map(drop)
}

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[handler]
async fn read(req: &Request) -> Response {
    let Some(sid) = sid(req) else {
        return 0.to_string().into_response();
    };
    if contract() {
        return match get_record(&store_key(sid)).await {
            Ok(Some((count, _))) => {
                let mut response = count.to_string().into_response();
                deliver(&mut response, sid);
                response
            }
            Ok(None) => 0.to_string().into_response(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
    }
    match get_count(&store_key(sid)).await {
        Ok(Some(count)) => {
            let mut response = count.to_string().into_response();
            if contract() {
                deliver(&mut response, sid);
            }
            response
        }
        Ok(None) => 0.to_string().into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[handler]
async fn incr(req: &Request) -> Response {
    if contract() {
        return incr_record(req).await;
    }
    let existing = match sid(req) {
        Some(sid) => match get_count(&store_key(sid)).await {
            Ok(Some(count)) => Some((sid.to_owned(), count)),
            Ok(None) => None,
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        None => None,
    };
    let loaded = existing.as_ref().map(|(_, count)| *count);
    let (sid, count) = existing.unwrap_or_else(|| (new_sid(), 0));
    let count = count.saturating_add(1);
    if save_count(&store_key(&sid), count, loaded).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut response = count.to_string().into_response();
    deliver(&mut response, &sid);
    response
}

/// `/incr` with `contract`: the same work over Flask-Session's record.
async fn incr_record(req: &Request) -> Response {
    let existing = match sid(req) {
        Some(sid) => match get_record(&store_key(sid)).await {
            Ok(Some((count, record))) => Some((sid.to_owned(), count, record)),
            Ok(None) => None,
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        None => None,
    };
    let (sid, count, loaded) = match existing {
        Some((sid, count, record)) => (sid, count, Some(record)),
        None => (new_sid(), 0, None),
    };
    let count = count.saturating_add(1);
    if save_record(&store_key(&sid), count, loaded.as_deref())
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut response = count.to_string().into_response();
    deliver(&mut response, &sid);
    response
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let client = redis::Client::open(redis_url()).expect("a valid Redis URL");
    let manager = ConnectionManager::new(client).await.expect("Redis is up");
    let work = std::env::var("RAW_REDIS_WORK").unwrap_or_default();
    CONTRACT.set(work == "contract").ok();
    if work == "merge" || work == "contract" {
        MERGE_SCRIPT.set(load_save_script(&manager).await).ok();
    }
    REDIS.set(manager).ok();
    let app = Route::new()
        .at("/plain", get(plain))
        .at("/incr", get(incr))
        .at("/read", get(read));
    serve_poem(app).await;
}
