//! The Rocket demo: a typed `Visit { count }` session over the
//! backend that `./Session.toml` (or `$SESSION_CONFIG`) and `SESSION_*` select.
//! It listens on 127.0.0.1 and `$PORT` (default 8000), which override Rocket's
//! own `address` and `port`.
//!
//! ```text
//! cargo run -p session-integrations --example rocket_demo
//! curl -c jar -b jar http://127.0.0.1:8000/incr
//! ```

use std::time::Duration;

use rocket::http::{ContentType, Status};
use rocket::{delete, get, post, put, routes, Config};
use session::flask::{flash, take_flashes, FlaskLogin};
use session::owner::{LoginError, OwnedSession, SessionHandle};
use session::{SessionData, Timestamp};
use session_integrations::rocket::{Session, SessionFairing, TypedSession};

/// The visit counter every demo route shares.
#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/incr")]
fn incr(mut visit: TypedSession<Visit>) -> String {
    visit.count = visit.count.saturating_add(1);
    visit.count.to_string()
}

#[get("/read")]
fn read(visit: TypedSession<Visit>) -> String {
    visit.count.to_string()
}

/// Stores the body under `key`; with `delay_ms`, waits that long (at most
/// 5 s) between loading the session and returning, so tests can overlap
/// requests.
#[put("/kv/<key>?<delay_ms>", data = "<body>")]
async fn put_kv(key: &str, delay_ms: Option<u64>, session: Session, body: String) -> Status {
    if let Some(ms) = delay_ms {
        rocket::tokio::time::sleep(Duration::from_millis(ms.min(5000))).await;
    }
    match session.insert(key, &body) {
        Ok(()) => Status::NoContent,
        Err(error) => {
            tracing::error!(%error, "storing the value failed");
            Status::InternalServerError
        }
    }
}

#[get("/kv/<key>")]
fn get_kv(key: &str, session: Session) -> Option<String> {
    Some(match session.get_json(key)? {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

#[delete("/kv/<key>")]
fn delete_kv(key: &str, session: Session) -> Status {
    session.remove(key);
    Status::NoContent
}

#[post("/clear")]
fn clear(session: Session) -> Status {
    session.clear();
    Status::NoContent
}

#[post("/regenerate")]
fn regenerate(session: Session) -> Status {
    match session.regenerate() {
        Ok(()) => Status::NoContent,
        Err(error) => {
            tracing::error!(%error, "regenerating the session failed");
            Status::InternalServerError
        }
    }
}

/// `POST /login/<user>`: clears the session, then logs `user` in (a new sid,
/// the owner, Flask-Login's `_fresh`); 204, or 400 for an owner too long.
#[post("/login/<user>")]
fn login(user: &str, session: Session) -> Status {
    session.clear();
    match session.login(user) {
        Ok(()) => Status::NoContent,
        Err(LoginError::Owner { .. }) => Status::BadRequest,
        Err(error) => {
            tracing::error!(%error, "logging the user in failed");
            Status::InternalServerError
        }
    }
}

/// `GET /whoami`: the logged-in user, or 401.
#[get("/whoami")]
fn whoami(session: Session) -> Result<String, Status> {
    session.owner().ok_or(Status::Unauthorized)
}

/// `POST /logout`: ends this session; 204.
#[post("/logout")]
fn logout(session: Session) -> Status {
    match session.logout() {
        Ok(()) => Status::NoContent,
        Err(_) => Status::InternalServerError,
    }
}

/// `GET /sessions`: the logged-in owner's live sessions as JSON, one
/// `{"id", "current", "created", "expires"}` per device; 401 when anonymous.
#[get("/sessions")]
async fn sessions(session: Session) -> Result<(ContentType, String), Status> {
    let owner = session.owner().ok_or(Status::Unauthorized)?;
    let current = session.handle();
    let list = session
        .manager()
        .sessions_of(&owner)
        .await
        .map_err(|error| store_failure(&error))?;
    let devices: Vec<_> = list.iter().map(|s| device(s, &current)).collect();
    Ok((
        ContentType::JSON,
        serde_json::Value::from(devices).to_string(),
    ))
}

/// `POST /logout-everywhere`: ends every session of the logged-in owner, this
/// one included; 204, or 401 when anonymous.
#[post("/logout-everywhere")]
async fn logout_everywhere(session: Session) -> Status {
    let Some(owner) = session.owner() else {
        return Status::Unauthorized;
    };
    if let Err(error) = session.manager().revoke_all(&owner).await {
        return store_failure(&error);
    }
    match session.logout() {
        Ok(()) => Status::NoContent,
        Err(_) => Status::InternalServerError,
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
fn store_failure(error: &session::StoreError) -> Status {
    tracing::warn!(%error, "the session store failed");
    Status::from_code(error.status()).unwrap_or(Status::InternalServerError)
}

#[post("/permanent/<flag>")]
fn permanent(flag: bool, session: Session) -> Status {
    session.set_permanent(flag);
    Status::NoContent
}

// Flask interop (tests/tests/interop.rs), beyond the demo contract: the keys
// Flask's ecosystem writes, through the typed helpers of `session::flask`.
// The Poem demo has the same routes.

/// `GET /flask/login` → Flask-Login's keys as JSON: `{"user_id", "fresh", "id"}`.
#[get("/flask/login")]
fn flask_login(login: TypedSession<FlaskLogin>) -> String {
    serde_json::json!({"user_id": login.user_id, "fresh": login.fresh, "id": login.id}).to_string()
}

/// `POST /flask/login/{user_id}` → logs the user in, as `login_user`; 204.
#[post("/flask/login/<user_id>")]
fn flask_login_as(user_id: &str, mut login: TypedSession<FlaskLogin>) -> Status {
    match login.login(user_id) {
        Ok(()) => Status::NoContent,
        Err(_) => Status::BadRequest,
    }
}

/// `POST /flask/logout` → removes Flask-Login's keys, as `logout_user`; 204.
#[post("/flask/logout")]
fn flask_logout(mut login: TypedSession<FlaskLogin>) -> Status {
    login.forget();
    Status::NoContent
}

/// `POST /flask/flash/{category}` (UTF-8 text body) → queues a flashed
/// message, as Flask's `flash(message, category)`; 204.
#[post("/flask/flash/<category>", data = "<message>")]
fn flask_flash(category: &str, session: Session, message: String) -> Status {
    match flash(&session, category, &message) {
        Ok(()) => Status::NoContent,
        Err(error) => {
            tracing::error!(%error, "flashing the message failed");
            Status::InternalServerError
        }
    }
}

/// `GET /flask/flashes` → takes the flashed messages, as Flask's
/// `get_flashed_messages(with_categories=True)`: a JSON array of
/// `[category, message]` pairs.
#[get("/flask/flashes")]
fn flask_flashes(session: Session) -> Result<String, Status> {
    let flashes = take_flashes(&session).map_err(|error| {
        tracing::error!(%error, "reading the flashed messages failed");
        Status::InternalServerError
    })?;
    let pairs: Vec<[String; 2]> = flashes
        .into_iter()
        .map(|f| [f.category, f.message])
        .collect();
    Ok(serde_json::to_string(&pairs).unwrap_or_default())
}

#[rocket::main]
async fn main() {
    // Rocket's `log` records go through this subscriber too; its per-request
    // lines are info, so they are quiet unless RUST_LOG asks for them.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rocket=warn".into()),
        )
        .init();
    let port = match std::env::var("PORT").map(|port| port.parse::<u16>()) {
        Err(_) => 8000,
        Ok(Ok(port)) => port,
        Ok(Err(error)) => {
            eprintln!("error: PORT is not a port number: {error}");
            std::process::exit(1);
        }
    };
    let figment = Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port));
    let rocket = rocket::custom(figment)
        .attach(SessionFairing::from_config())
        .mount(
            "/",
            routes![
                plain,
                incr,
                read,
                put_kv,
                get_kv,
                delete_kv,
                clear,
                regenerate,
                permanent,
                login,
                whoami,
                logout,
                sessions,
                logout_everywhere
            ],
        )
        .mount(
            "/",
            routes![
                flask_login,
                flask_login_as,
                flask_logout,
                flask_flash,
                flask_flashes
            ],
        );
    if let Err(error) = rocket.launch().await {
        // The fairing has logged why sessions could not start.
        let abort = error.pretty_print();
        eprintln!("error: {error}; {abort}");
        std::process::exit(1);
    }
}
