//! Poem's built-in server-side sessions: `ServerSession<RedisStorage>` over
//! the `ConnectionManager` of the redis crate poem is built on (0.32), with
//! the demo's routes and the demo's 31-day lifetime (so a write is SET EX, as
//! ours). Same port, graceful shutdown and logging as the Poem demo.

use std::time::Duration;

use poem::session::{CookieConfig, RedisStorage, ServerSession, Session};
use poem::{get, handler, EndpointExt, Route};
use session_bench::{init_logging, redis_url, serve_poem, TTL};

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[handler]
fn incr(session: &Session) -> String {
    let count = session.get::<u32>("count").unwrap_or(0).saturating_add(1);
    session.set("count", count);
    count.to_string()
}

#[handler]
fn read(session: &Session) -> String {
    session.get::<u32>("count").unwrap_or(0).to_string()
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let client = redis_poem::Client::open(redis_url()).expect("a valid Redis URL");
    let manager = redis_poem::aio::ConnectionManager::new(client)
        .await
        .expect("Redis is up");
    let config = CookieConfig::default().max_age(Some(Duration::from_secs(TTL.as_secs())));
    let app = Route::new()
        .at("/plain", get(plain))
        .at("/incr", get(incr))
        .at("/read", get(read))
        .with(ServerSession::new(config, RedisStorage::new(manager)));
    serve_poem(app).await;
}
