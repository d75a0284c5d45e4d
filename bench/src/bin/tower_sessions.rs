//! axum with tower-sessions and its Redis store (tower-sessions-redis-store,
//! over one fred client): the demo's routes with a typed count, the cookie
//! named `session` with our attributes (`Path=/; HttpOnly; SameSite=Lax`), a
//! 31-day lifetime renewed on activity. tower-sessions loads the record on
//! the session's first use in a request (not on `/plain`), writes only a
//! modified session (`SET … XX EXAT`, or `NX` for a new one) and sends a
//! `Set-Cookie` (with `Max-Age`) only then.

use axum::routing::get;
use axum::Router;
use session_bench::{init_logging, port, redis_url, TTL};
use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

async fn plain() -> &'static str {
    "ok"
}

async fn incr(session: Session) -> Result<String, axum::http::StatusCode> {
    let count = session
        .get::<u32>("count")
        .await
        .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        .saturating_add(1);
    session
        .insert("count", count)
        .await
        .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(count.to_string())
}

async fn read(session: Session) -> Result<String, axum::http::StatusCode> {
    let count = session
        .get::<u32>("count")
        .await
        .map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0);
    Ok(count.to_string())
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let config = Config::from_url(&redis_url()).expect("a valid Redis URL");
    // One connection, as the other apps' one `ConnectionManager`.
    let pool = Pool::new(config, None, None, None, 1).expect("a Redis pool");
    pool.init().await.expect("Redis is up");
    let ttl = i64::try_from(TTL.as_secs()).expect("31 days fit");
    let sessions = SessionManagerLayer::new(RedisStore::new(pool))
        .with_name("session")
        .with_secure(false)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(Duration::seconds(ttl)));
    let app = Router::new()
        .route("/plain", get(plain))
        .route("/incr", get(incr))
        .route("/read", get(read))
        .layer(sessions);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", port()))
        .await
        .expect("the port is free");
    axum::serve(listener, app).await.expect("server");
}
