//! The limit, in Rocket: the same raw work as `raw_poem` (one GET; for `/incr`
//! GET, SET EX and a `Set-Cookie`; the cookie from Rocket's jar, its sid's
//! shape checked) over one `ConnectionManager` in Rocket's state, with no
//! fairing. Same routes, port, configuration and logging as the Rocket demo.
//!
//! `RAW_REDIS_WORK=contract` does by hand what ours does with its default
//! settings, as `raw_poem`'s `contract` does: `GETEX … EX` to read, the
//! store's conditional-save script by `EVALSHA` to write, and `Vary: Cookie`
//! on every response that read the session, with a `Set-Cookie` that moves
//! the cookie's expiry on `/read` too, over Flask-Session's record (a msgpack
//! map, decoded with serde) rather than the count as text (BENCHMARKS.md,
//! issue 20).

use std::sync::OnceLock;

use rocket::http::{CookieJar, Header, Status};
use rocket::response::{self, Responder};
use rocket::{get, routes, Config, Request, Response, State};
use session::store::redis::redis::{self, aio::ConnectionManager};
use session_bench::{
    decode_record, encode_record, init_logging, load_save_script, new_sid, port, read_command,
    redis_url, set_cookie, store_key, valid_sid, write_command, COOKIE_NAME,
};

fn sid(jar: &CookieJar<'_>) -> Option<String> {
    jar.get(COOKIE_NAME)
        .map(|cookie| cookie.value())
        .filter(|value| valid_sid(value))
        .map(str::to_owned)
}

/// The conditional-save script's SHA-1, when `RAW_REDIS_WORK=contract`.
static CONTRACT_SCRIPT: OnceLock<String> = OnceLock::new();

async fn get_count(redis: &ConnectionManager, key: &str) -> Result<Option<u32>, Status> {
    read_command(key, CONTRACT_SCRIPT.get().is_some())
        .query_async(&mut redis.clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)
}

/// With `contract`: the count in the session's Flask-Session record, and the
/// record as loaded, for the conditional save.
async fn get_record(
    redis: &ConnectionManager, key: &str,
) -> Result<Option<(u32, Vec<u8>)>, Status> {
    let record: Option<Vec<u8>> = read_command(key, true)
        .query_async(&mut redis.clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)?;
    Ok(record.and_then(|record| decode_record(&record).map(|count| (count, record))))
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
    if CONTRACT_SCRIPT.get().is_some() {
        let found = match sid(jar) {
            Some(sid) => get_record(redis, &store_key(&sid))
                .await?
                .map(|(count, _)| (sid, count)),
            None => None,
        };
        return Ok(match found {
            Some((sid, count)) => Written {
                body: count.to_string(),
                sid: Some(sid),
            },
            None => Written {
                body: 0.to_string(),
                sid: None,
            },
        });
    }
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
    if let Some(sha) = CONTRACT_SCRIPT.get() {
        return incr_record(jar, redis, sha).await;
    }
    let existing = match sid(jar) {
        Some(sid) => get_count(redis, &store_key(&sid))
            .await?
            .map(|count| (sid, count)),
        None => None,
    };
    let loaded = existing.as_ref().map(|(_, count)| *count);
    let (sid, count) = existing.unwrap_or_else(|| (new_sid(), 0));
    let count = count.saturating_add(1);
    // A new session is written with `SET` in both.
    let conditional = CONTRACT_SCRIPT.get().map(String::as_str).zip(loaded);
    write_command(&store_key(&sid), count, conditional)
        .query_async::<redis::Value>(&mut redis.inner().clone())
        .await
        .map_err(|_| Status::ServiceUnavailable)?;
    Ok(Written {
        body: count.to_string(),
        sid: Some(sid),
    })
}

/// `/incr` with `contract`: the same work over Flask-Session's record,
/// saved conditionally with the script `sha`.
async fn incr_record(
    jar: &CookieJar<'_>, redis: &ConnectionManager, sha: &str,
) -> Result<Written, Status> {
    let existing = match sid(jar) {
        Some(sid) => get_record(redis, &store_key(&sid))
            .await?
            .map(|(count, record)| (sid, count, record)),
        None => None,
    };
    let (sid, count, loaded) = match existing {
        Some((sid, count, record)) => (sid, count, Some(record)),
        None => (new_sid(), 0, None),
    };
    let count = count.saturating_add(1);
    let conditional = loaded.as_deref().map(|loaded| (sha, loaded));
    write_command(
        &store_key(&sid),
        encode_record(count).as_slice(),
        conditional,
    )
    .query_async::<redis::Value>(&mut redis.clone())
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
        CONTRACT_SCRIPT.set(load_save_script(&manager).await).ok();
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
