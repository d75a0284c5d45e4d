//! The growth benchmark's app for ours on Poem (`bench/grow.sh`): the Poem
//! demo's `/plain`, `/incr` and `/read` (a typed `Visit { count }`, the same
//! handlers), over the backend `SESSION_*` selects, plus `/fill`, which
//! creates a session holding the padding of `session_bench::padding` beside
//! the count. `/read` and `/incr` then load, and `/incr` writes, a session of
//! that size and key count.

use poem::listener::TcpListener;
use poem::{get, handler, EndpointExt, Route, Server};
use session::SessionData;
use session_bench::{init_logging, padding, port};
use session_integrations::poem::{Session, SessionMiddleware, TypedSession};

#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[handler]
fn incr(mut visit: TypedSession<Visit>) -> String {
    visit.count = visit.count.saturating_add(1);
    visit.count.to_string()
}

#[handler]
fn read(visit: TypedSession<Visit>) -> String {
    visit.count.to_string()
}

#[handler]
fn fill(session: Session) -> poem::Result<&'static str> {
    for (key, value) in padding() {
        session
            .insert(&key, &value)
            .map_err(poem::error::InternalServerError)?;
    }
    session
        .insert("count", &0u32)
        .map_err(poem::error::InternalServerError)?;
    Ok("filled")
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let sessions = SessionMiddleware::from_config()
        .await
        .expect("the session settings and store");
    let app = Route::new()
        .at("/plain", get(plain))
        .at("/incr", get(incr))
        .at("/read", get(read))
        .at("/fill", get(fill))
        .with(sessions);
    Server::new(TcpListener::bind(format!("127.0.0.1:{}", port())))
        .run(app)
        .await
        .expect("server");
}
