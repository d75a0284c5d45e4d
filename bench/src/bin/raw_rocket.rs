//! The limit, in Rocket: the same raw work as `raw_poem` (one GET; for `/incr`
//! GET, SET EX and a `Set-Cookie`; the cookie from Rocket's jar, its sid's
//! shape checked) over one `ConnectionManager` in Rocket's state, with no
//! fairing. Same routes, port, configuration and logging as the Rocket demo.

use rocket::http::{CookieJar, Header, Status};
use rocket::{get, routes, Config, Responder, State};
use session::store::redis::redis::{self, aio::ConnectionManager};
use session_bench::{
    init_logging, new_sid, port, redis_url, set_cookie, store_key, valid_sid, COOKIE_NAME, TTL,
};

fn sid(jar: &CookieJar<'_>) -> Option<String> {
    jar.get(COOKIE_NAME)
        .map(|cookie| cookie.value())
        .filter(|value| valid_sid(value))
        .map(str::to_owned)
}

async fn get_count(redis: &ConnectionManager, key: &str) -> Result<Option<u32>, Status> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut redis.clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)
}

#[derive(Responder)]
struct Written {
    body: String,
    cookie: Header<'static>,
}

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/read")]
async fn read(jar: &CookieJar<'_>, redis: &State<ConnectionManager>) -> Result<String, Status> {
    let count = match sid(jar) {
        Some(sid) => get_count(redis, &store_key(&sid)).await?.unwrap_or(0),
        None => 0,
    };
    Ok(count.to_string())
}

#[get("/incr")]
async fn incr(jar: &CookieJar<'_>, redis: &State<ConnectionManager>) -> Result<Written, Status> {
    let existing = match sid(jar) {
        Some(sid) => get_count(redis, &store_key(&sid))
            .await?
            .map(|count| (sid, count)),
        None => None,
    };
    let (sid, count) = existing.unwrap_or_else(|| (new_sid(), 0));
    let count = count.saturating_add(1);
    redis::cmd("SET")
        .arg(store_key(&sid))
        .arg(count)
        .arg("EX")
        .arg(TTL.as_secs())
        .query_async::<()>(&mut redis.inner().clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)?;
    Ok(Written {
        body: count.to_string(),
        cookie: Header::new("Set-Cookie", set_cookie(&sid)),
    })
}

#[rocket::main]
async fn main() {
    init_logging("info,rocket=warn");
    let client = redis::Client::open(redis_url()).expect("a valid Redis URL");
    let manager = ConnectionManager::new(client).await.expect("Redis is up");
    let figment = Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port()));
    let _ = rocket::custom(figment)
        .manage(manager)
        .mount("/", routes![plain, incr, read])
        .launch()
        .await
        .expect("server");
}
