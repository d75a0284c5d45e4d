//! The Poem demo: a typed `Visit { count }` session over the
//! backend that `./Session.toml` (or `$SESSION_CONFIG`) and `SESSION_*` select.
//!
//! ```text
//! cargo run -p session-integrations --example poem_demo
//! curl -c jar -b jar http://127.0.0.1:8000/incr
//! ```

use poem::http::StatusCode;
use poem::listener::TcpListener;
use std::time::Duration;

use poem::web::{Path, Query};
use poem::{get, handler, post, put, EndpointExt, IntoResponse, Response, Route, Server};
use session::flask::{flash, take_flashes, FlaskLogin};
use session::owner::{LoginError, OwnedSession, SessionHandle};
use session::{SessionData, Timestamp};
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

/// `PUT /kv/{key}?delay_ms=N`'s query.
#[derive(Debug, serde::Deserialize)]
struct Delay {
    delay_ms: Option<u64>,
}

/// Stores the body under `key`; with `delay_ms`, waits that long (at most
/// 5 s) between loading the session and returning, so tests can overlap
/// requests.
#[handler]
async fn put_kv(
    Path(key): Path<String>, Query(delay): Query<Delay>, session: Session, body: String,
) -> poem::Result<StatusCode> {
    if let Some(ms) = delay.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms.min(5000))).await;
    }
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

/// `POST /login/{user}`: clears the session, then logs `user` in (a new sid,
/// the owner, Flask-Login's `_fresh`); 204, or 400 for an owner too long.
#[handler]
fn log_in(Path(user): Path<String>, session: Session) -> StatusCode {
    session.clear();
    match session.login(&user) {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(LoginError::Owner { .. }) => StatusCode::BAD_REQUEST,
        Err(error) => {
            tracing::error!(%error, "logging the user in failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// `GET /whoami`: the logged-in user, or 401.
#[handler]
fn whoami(session: Session) -> Response {
    match session.owner() {
        Some(user) => user.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// `POST /logout`: ends this session; 204.
#[handler]
fn log_out(session: Session) -> poem::Result<StatusCode> {
    session.logout().map_err(poem::error::InternalServerError)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /sessions`: the logged-in owner's live sessions as JSON, one
/// `{"id", "current", "created", "expires"}` per device; 401 when anonymous.
#[handler]
async fn list_sessions(session: Session) -> Response {
    let Some(owner) = session.owner() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let current = session.handle();
    match session.manager().sessions_of(&owner).await {
        Ok(list) => {
            let devices: Vec<_> = list.iter().map(|s| device(s, &current)).collect();
            serde_json::Value::from(devices)
                .to_string()
                .with_content_type("application/json")
                .into_response()
        }
        Err(error) => store_failure(&error),
    }
}

/// `POST /logout-everywhere`: ends every session of the logged-in owner, this
/// one included; 204, or 401 when anonymous.
#[handler]
async fn logout_everywhere(session: Session) -> Response {
    let Some(owner) = session.owner() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if let Err(error) = session.manager().revoke_all(&owner).await {
        return store_failure(&error);
    }
    match session.logout() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// One device of `GET /sessions`.
fn device(owned: &OwnedSession, current: &SessionHandle) -> serde_json::Value {
    let time = |at: Option<std::time::SystemTime>| {
        at.map(|at| Timestamp::from_system_time(at).to_rfc3339())
    };
    serde_json::json!({
        "id": owned.handle.as_str(),
        "current": &owned.handle == current,
        "created": time(owned.created),
        "expires": time(owned.expires),
    })
}

/// The opaque answer to a store that failed: 503 when unreachable.
fn store_failure(error: &session::StoreError) -> Response {
    tracing::warn!(%error, "the session store failed");
    StatusCode::from_u16(error.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

#[handler]
fn permanent(Path(flag): Path<bool>, session: Session) -> StatusCode {
    session.set_permanent(flag);
    StatusCode::NO_CONTENT
}

// Flask interop (tests/tests/interop.rs), beyond the demo contract: the keys
// Flask's ecosystem writes, through the typed helpers of `session::flask`.
// The Rocket demo has the same routes.

/// `GET /flask/login` → Flask-Login's keys as JSON: `{"user_id", "fresh", "id"}`.
#[handler]
fn flask_login(login: TypedSession<FlaskLogin>) -> String {
    serde_json::json!({"user_id": login.user_id, "fresh": login.fresh, "id": login.id}).to_string()
}

/// `POST /flask/login/{user_id}` → logs the user in, as `login_user`; 204.
#[handler]
fn flask_login_as(Path(user_id): Path<String>, mut login: TypedSession<FlaskLogin>) -> StatusCode {
    if login.login(&user_id).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    StatusCode::NO_CONTENT
}

/// `POST /flask/logout` → removes Flask-Login's keys, as `logout_user`; 204.
#[handler]
fn flask_logout(mut login: TypedSession<FlaskLogin>) -> StatusCode {
    login.forget();
    StatusCode::NO_CONTENT
}

/// `POST /flask/flash/{category}` (UTF-8 text body) → queues a flashed
/// message, as Flask's `flash(message, category)`; 204.
#[handler]
fn flask_flash(
    Path(category): Path<String>, session: Session, message: String,
) -> poem::Result<StatusCode> {
    flash(&session, &category, &message).map_err(poem::error::InternalServerError)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /flask/flashes` → takes the flashed messages, as Flask's
/// `get_flashed_messages(with_categories=True)`: a JSON array of
/// `[category, message]` pairs.
#[handler]
fn flask_flashes(session: Session) -> poem::Result<String> {
    let flashes = take_flashes(&session).map_err(poem::error::InternalServerError)?;
    let pairs: Vec<[String; 2]> = flashes
        .into_iter()
        .map(|f| [f.category, f.message])
        .collect();
    Ok(serde_json::to_string(&pairs).unwrap_or_default())
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
        .at("/login/:user", post(log_in))
        .at("/whoami", get(whoami))
        .at("/logout", post(log_out))
        .at("/sessions", get(list_sessions))
        .at("/logout-everywhere", post(logout_everywhere))
        .at("/flask/login", get(flask_login))
        .at("/flask/login/:user_id", post(flask_login_as))
        .at("/flask/logout", post(flask_logout))
        .at("/flask/flash/:category", post(flask_flash))
        .at("/flask/flashes", get(flask_flashes))
        .with(sessions.clone());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    // Ctrl-C stops taking connections and lets requests under way finish
    // (10 s at most); then the store's cleanup task ends and its pool closes.
    let served = Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
        .run_with_graceful_shutdown(
            app,
            async { tokio::signal::ctrl_c().await.unwrap_or_default() },
            Some(Duration::from_secs(10)),
        )
        .await;
    sessions.shutdown().await;
    if let Err(error) = served {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
