//! The limit, in Rocket: the same raw work as `raw_poem` (one GET; for `/incr`
//! GET, SET EX and a `Set-Cookie`; the cookie from Rocket's jar, its sid's
//! shape checked) over one `ConnectionManager` in Rocket's state, with no
//! fairing. Same routes, port, configuration and logging as the Rocket demo.
//!
//! `RAW_REDIS_WORK=contract` does by hand what ours does with its default
//! settings, as `raw_poem`'s `contract` does: `GETEX … EX` to read, the
//! store's conditional-save script by `EVALSHA` to write, and `Vary: Cookie`
//! on every response that read the session, with a `Set-Cookie` that moves
//! the cookie's expiry on `/read` too (BENCHMARKS.md, issue 20).

use std::sync::OnceLock;

use rocket::http::{CookieJar, Header, Status};
use rocket::response::{self, Responder};
use rocket::{get, routes, Config, Request, Response, State};
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

/// The conditional-save script's SHA-1, when `RAW_REDIS_WORK=contract`.
static CONTRACT_SCRIPT: OnceLock<String> = OnceLock::new();

/// The store's conditional save: the very file the store loads.
const SAVE_IF_UNCHANGED: &str =
    include_str!("../../../session/src/store/redis/save_if_unchanged.lua");

async fn get_count(redis: &ConnectionManager, key: &str) -> Result<Option<u32>, Status> {
    let mut command = match CONTRACT_SCRIPT.get() {
        Some(_) => redis::cmd("GETEX"),
        None => redis::cmd("GET"),
    };
    command.arg(key);
    if CONTRACT_SCRIPT.get().is_some() {
        command.arg("EX").arg(TTL.as_secs());
    }
    command
        .query_async(&mut redis.clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)
}

/// The count, and for a request that read a session the headers the
/// contract asks for: `Vary: Cookie` (with `contract`) and the cookie.
struct Written {
    body: String,
    sid: Option<String>,
}

impl<'r> Responder<'r, 'static> for Written {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build_from(self.body.respond_to(request)?);
        if let Some(sid) = self.sid {
            if CONTRACT_SCRIPT.get().is_some() {
                response.raw_header_adjoin("Vary", "Cookie");
            }
            response.header_adjoin(Header::new("Set-Cookie", set_cookie(&sid)));
        }
        response.ok()
    }
}

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/read")]
async fn read(jar: &CookieJar<'_>, redis: &State<ConnectionManager>) -> Result<Written, Status> {
    let found = match sid(jar) {
        Some(sid) => get_count(redis, &store_key(&sid))
            .await?
            .map(|count| (sid, count)),
        None => None,
    };
    Ok(match found {
        // Only the contract refreshes the cookie of a read.
        Some((sid, count)) => Written {
            body: count.to_string(),
            sid: CONTRACT_SCRIPT.get().map(|_| sid),
        },
        None => Written {
            body: 0.to_string(),
            sid: None,
        },
    })
}

#[get("/incr")]
async fn incr(jar: &CookieJar<'_>, redis: &State<ConnectionManager>) -> Result<Written, Status> {
    let existing = match sid(jar) {
        Some(sid) => get_count(redis, &store_key(&sid))
            .await?
            .map(|count| (sid, count)),
        None => None,
    };
    let loaded = existing.as_ref().map(|(_, count)| *count);
    let (sid, count) = existing.unwrap_or_else(|| (new_sid(), 0));
    let count = count.saturating_add(1);
    let write = match (CONTRACT_SCRIPT.get(), loaded) {
        (Some(sha), Some(loaded)) => {
            let mut command = redis::cmd("EVALSHA");
            command.arg(sha).arg(1).arg(store_key(&sid)).arg(loaded);
            command.arg(count).arg(TTL.as_secs()).arg("=");
            command
        }
        // A new session is written with `SET` in both.
        _ => {
            let mut command = redis::cmd("SET");
            command.arg(store_key(&sid)).arg(count);
            command.arg("EX").arg(TTL.as_secs());
            command
        }
    };
    write
        .query_async::<redis::Value>(&mut redis.inner().clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)?;
    Ok(Written {
        body: count.to_string(),
        sid: Some(sid),
    })
}

#[rocket::main]
async fn main() {
    init_logging("info,rocket=warn");
    let client = redis::Client::open(redis_url()).expect("a valid Redis URL");
    let manager = ConnectionManager::new(client).await.expect("Redis is up");
    if std::env::var("RAW_REDIS_WORK").is_ok_and(|work| work == "contract") {
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(SAVE_IF_UNCHANGED)
            .query_async(&mut manager.clone())
            .await
            .expect("the script loads");
        CONTRACT_SCRIPT.set(sha).ok();
    }
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
