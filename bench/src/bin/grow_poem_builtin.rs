//! The growth benchmark's app for poem's built-in sessions (`bench/grow.sh`):
//! `poem_builtin`'s `ServerSession<RedisStorage>` and routes, plus `/fill`,
//! which creates a session holding the padding of `session_bench::padding`
//! beside the count.

use std::time::Duration;

use poem::listener::TcpListener;
use poem::session::{CookieConfig, RedisStorage, ServerSession, Session};
use poem::{get, handler, EndpointExt, Route, Server};
use session_bench::{init_logging, padding, port, redis_url, TTL};

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

#[handler]
fn fill(session: &Session) -> &'static str {
    for (key, value) in padding() {
        session.set(&key, value);
    }
    session.set("count", 0u32);
    "filled"
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
        .at("/fill", get(fill))
        .with(ServerSession::new(config, RedisStorage::new(manager)));
    Server::new(TcpListener::bind(format!("127.0.0.1:{}", port())))
        .run(app)
        .await
        .expect("server");
}
