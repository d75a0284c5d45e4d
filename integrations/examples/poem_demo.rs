//! The Poem demo (design.md §8): a typed `Visit { count }` session over the
//! backend that `./Session.toml` (or `$SESSION_CONFIG`) and `SESSION_*` select.
//!
//! ```text
//! cargo run -p session-integrations --example poem_demo
//! curl -c jar -b jar http://127.0.0.1:8000/incr
//! ```

use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::Path;
use poem::{get, handler, post, put, EndpointExt, IntoResponse, Response, Route, Server};
use session::SessionData;
use session_integrations::poem::{Session, SessionMiddleware, TypedSession};

/// The visit counter every demo route shares.
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
fn put_kv(Path(key): Path<String>, session: Session, body: String) -> poem::Result<StatusCode> {
    session
        .insert(&key, &body)
        .map_err(poem::error::InternalServerError)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
fn get_kv(Path(key): Path<String>, session: Session) -> poem::Result<Response> {
    let Some(value) = session.get_json(&key) else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    Ok(match value {
        serde_json::Value::String(text) => text.into_response(),
        other => other.to_string().into_response(),
    })
}

#[handler]
fn delete_kv(Path(key): Path<String>, session: Session) -> StatusCode {
    session.remove(&key);
    StatusCode::NO_CONTENT
}

#[handler]
fn clear(session: Session) -> StatusCode {
    session.clear();
    StatusCode::NO_CONTENT
}

#[handler]
fn regenerate(session: Session) -> poem::Result<StatusCode> {
    session
        .regenerate()
        .map_err(poem::error::InternalServerError)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
fn permanent(Path(flag): Path<bool>, session: Session) -> StatusCode {
    session.set_permanent(flag);
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let sessions = match SessionMiddleware::from_config().await {
        Ok(sessions) => sessions,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let app = Route::new()
        .at("/plain", get(plain))
        .at("/incr", get(incr))
        .at("/read", get(read))
        .at("/kv/:key", put(put_kv).get(get_kv).delete(delete_kv))
        .at("/clear", post(clear))
        .at("/regenerate", post(regenerate))
        .at("/permanent/:flag", post(permanent))
        .with(sessions);
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    if let Err(error) = Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
        .run(app)
        .await
    {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
