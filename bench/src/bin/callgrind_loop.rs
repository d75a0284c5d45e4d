//! An in-process loop of N requests through the whole Poem stack, with no
//! network: the endpoint wrapped by a session middleware, called with a request
//! that carries the session cookie. Run under callgrind to count instructions
//! per request; only `measured_loop` is counted (`--toggle-collect`).
//!
//! `callgrind_loop <ours|poem|bare> <plain|read|incr> <N>`
//!
//! Boundary: every app gets the same kind of request, with one session
//! cookie (bare Poem too, which ignores it); building and dropping it, the
//! router, the handler and the response are counted for all three, so
//! `app − bare` is the session middleware, its extractor and its store.

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::header::{COOKIE, SET_COOKIE};
use poem::{get, handler, Endpoint, EndpointExt, IntoEndpoint, Request, Response, Route};
use session::store::memory::MemoryStore;
use session::{SessionData, SessionManager, Settings};
use session_integrations::poem::{SessionMiddleware, TypedSession};

#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[handler]
fn ours_incr(mut visit: TypedSession<Visit>) -> String {
    visit.count = visit.count.saturating_add(1);
    visit.count.to_string()
}

#[handler]
fn ours_read(visit: TypedSession<Visit>) -> String {
    visit.count.to_string()
}

#[handler]
fn poem_incr(session: &poem::session::Session) -> String {
    let count = session.get::<u32>("count").unwrap_or(0).saturating_add(1);
    session.set("count", count);
    count.to_string()
}

#[handler]
fn poem_read(session: &poem::session::Session) -> String {
    session.get::<u32>("count").unwrap_or(0).to_string()
}

fn routes(app: &str) -> Route {
    match app {
        "ours" | "ours-overwrite" => Route::new()
            .at("/plain", get(plain))
            .at("/incr", get(ours_incr))
            .at("/read", get(ours_read)),
        "poem" => Route::new()
            .at("/plain", get(plain))
            .at("/incr", get(poem_incr))
            .at("/read", get(poem_read)),
        _ => Route::new()
            .at("/plain", get(plain))
            .at("/incr", get(plain))
            .at("/read", get(plain)),
    }
}

fn endpoint(app: &str) -> BoxEndpoint<'static, Response> {
    match app {
        "ours" | "ours-overwrite" => {
            let write_mode = if app == "ours" {
                session::config::WriteMode::Merge
            } else {
                session::config::WriteMode::Overwrite
            };
            let settings = {
                let mut settings = Settings::default();
                settings.session_type = session::config::SessionType::Memory;
                settings.write_mode = write_mode;
                settings
            };
            let manager = SessionManager::new(settings, Arc::new(MemoryStore::new()))
                .expect("valid settings");
            routes(app)
                .with(SessionMiddleware::new(manager))
                .map_to_response()
                .boxed()
        }
        "poem" => routes(app)
            .with(poem::session::ServerSession::new(
                poem::session::CookieConfig::default(),
                poem::session::MemoryStorage::new(),
            ))
            .map_to_response()
            .boxed(),
        _ => routes(app).into_endpoint().map_to_response().boxed(),
    }
}

fn request(path: &str, cookie: Option<&str>) -> Request {
    let mut builder = Request::builder().uri(path.parse().expect("a valid path"));
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.finish()
}

/// The counted region: a plain function, so callgrind can toggle on it (an
/// async fn's body would be inlined into the runtime's poll loop).
#[inline(never)]
fn measured_loop(
    runtime: &tokio::runtime::Runtime, ep: &BoxEndpoint<'static, Response>, path: &str,
    cookie: Option<&str>, n: u64,
) -> u64 {
    let mut ok = 0;
    for _ in 0..n {
        let response = runtime.block_on(ep.call(request(path, cookie)));
        if response.is_ok_and(|r| r.status().is_success()) {
            ok += 1;
        }
    }
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (app, route, n) = match args.as_slice() {
        [_, app, route, n] => (app.clone(), route.clone(), n.parse::<u64>().expect("N")),
        _ => {
            eprintln!("usage: callgrind_loop <ours|poem|bare> <plain|read|incr> <N>");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (ep, path, cookie) = runtime.block_on(async {
        let ep = endpoint(&app);
        // Create the session once, as a returning browser would have it.
        let first = ep
            .call(request("/incr", None))
            .await
            .expect("first request");
        let cookie = first
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
            .next()
            // Bare Poem sets no cookie; it gets one of the same shape, so every
            // app parses the same request and the subtraction leaves only the
            // session layer.
            .or_else(|| Some(format!("session={}", "A".repeat(43))));
        let path = format!("/{route}");
        // Warm up allocator and caches outside the measured region.
        measured_warmup(&ep, &path, cookie.as_deref()).await;
        (ep, path, cookie)
    });
    let ok = measured_loop(&runtime, &ep, &path, cookie.as_deref(), n);
    assert_eq!(ok, n, "every request succeeds");
}

async fn measured_warmup(ep: &BoxEndpoint<'static, Response>, path: &str, cookie: Option<&str>) {
    for _ in 0..100 {
        let _ = ep.call(request(path, cookie)).await;
    }
}
