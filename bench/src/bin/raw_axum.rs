//! The limit, in axum: the raw work of a session layer over one
//! `ConnectionManager` (our redis 1), with no middleware, as `raw_poem` and
//! `raw_rocket`. `/read` is one GET; `/incr` is one GET and one SET EX and a
//! `Set-Cookie`; both find the cookie and check the sid's shape first.
//! `/plain` touches nothing. The value is the count as text.

use std::sync::OnceLock;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use session::store::redis::redis::{self, aio::ConnectionManager};
use session_bench::{
    init_logging, new_sid, port, redis_url, set_cookie, sid_from_cookie_headers, store_key, TTL,
};

static REDIS: OnceLock<ConnectionManager> = OnceLock::new();

fn connection() -> ConnectionManager {
    REDIS.get().expect("connected in main").clone()
}

fn sid(headers: &HeaderMap) -> Option<&str> {
    sid_from_cookie_headers(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

async fn get_count(key: &str) -> redis::RedisResult<Option<u32>> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut connection())
        .await
}

async fn plain() -> &'static str {
    "ok"
}

async fn read(headers: HeaderMap) -> Response {
    let count = match sid(&headers) {
        Some(sid) => match get_count(&store_key(sid)).await {
            Ok(count) => count.unwrap_or(0),
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        None => 0,
    };
    count.to_string().into_response()
}

async fn incr(headers: HeaderMap) -> Response {
    let existing = match sid(&headers) {
        Some(sid) => match get_count(&store_key(sid)).await {
            Ok(Some(count)) => Some((sid.to_owned(), count)),
            Ok(None) => None,
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        None => None,
    };
    let (sid, count) = existing.unwrap_or_else(|| (new_sid(), 0));
    let count = count.saturating_add(1);
    let saved: redis::RedisResult<()> = redis::cmd("SET")
        .arg(store_key(&sid))
        .arg(count)
        .arg("EX")
        .arg(TTL.as_secs())
        .query_async(&mut connection())
        .await;
    if saved.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut response = count.to_string().into_response();
    if let Ok(value) = HeaderValue::try_from(set_cookie(&sid)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let client = redis::Client::open(redis_url()).expect("a valid Redis URL");
    let manager = ConnectionManager::new(client).await.expect("Redis is up");
    REDIS.set(manager).ok();
    let app = Router::new()
        .route("/plain", get(plain))
        .route("/incr", get(incr))
        .route("/read", get(read));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", port()))
        .await
        .expect("the port is free");
    axum::serve(listener, app).await.expect("server");
}
