//! The fairing: builds the manager on ignite, finishes sessions on response.

use std::io::Cursor;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::figment::Figment;
use rocket::http::{ContentType, Status};
use rocket::{Build, Orbit, Request, Response, Rocket};
use session::config::ConfigError;
use session::{Finishing, RequestSession, SessionManager, Settings};

use super::state::{self, Installed};
use crate::adapter::{self, ResponseChange};
use crate::StartupError;

/// The key of the table in Rocket's figment that [`SessionFairing::from_figment`]
/// reads.
const FIGMENT_KEY: &str = "session";

/// Where the fairing gets its manager from on ignite.
#[derive(Debug)]
enum Source {
    /// `./Session.toml` (or `$SESSION_CONFIG`) and `SESSION_*` variables.
    Config,
    /// The `[session]` table of Rocket's figment and `SESSION_*` variables.
    Figment,
    /// Settings the app built.
    Settings(Box<Settings>),
    /// A manager the app built, over its own store.
    Manager(SessionManager),
}

/// Server-side sessions for a Rocket app: attach it with
/// `rocket::build().attach(SessionFairing::from_config())`.
///
/// On ignite it builds the [`SessionManager`] and manages it in Rocket's
/// state; on each response it finishes the request's session, if a guard
/// loaded it; on shutdown (after Rocket's grace period, once requests have
/// stopped) it calls [`SessionManager::shutdown`], which ends the store's
/// background cleanup and closes the pool the store built. A request that
/// still reaches a session guard after that gets a 503. Attaching it twice
/// keeps the last one.
#[derive(Debug)]
pub struct SessionFairing {
    source: Source,
}

impl SessionFairing {
    /// On ignite, loads the settings from `./Session.toml` (or the file named
    /// by `SESSION_CONFIG`) and `SESSION_*` variables, and builds the store
    /// they select.
    pub fn from_config() -> Self {
        Self {
            source: Source::Config,
        }
    }

    /// On ignite, loads the settings from the `[session]` table of Rocket's
    /// configuration (`Rocket.toml`, selected profile), instead of
    /// `Session.toml`; `SESSION_*` variables still override it. A missing
    /// table means the defaults.
    pub fn from_figment() -> Self {
        Self {
            source: Source::Figment,
        }
    }

    /// On ignite, builds the store that `settings` select.
    pub fn from_settings(settings: Settings) -> Self {
        Self {
            source: Source::Settings(Box::new(settings)),
        }
    }

    /// Uses a manager the app built, for example over its own store.
    pub fn new(manager: SessionManager) -> Self {
        Self {
            source: Source::Manager(manager),
        }
    }

    async fn manager(&self, figment: &Figment) -> Result<SessionManager, StartupError> {
        let settings = match &self.source {
            Source::Manager(manager) => return Ok(manager.clone()),
            Source::Settings(settings) => Settings::clone(settings),
            Source::Config => Settings::load()?,
            Source::Figment => settings_from_figment(figment)?,
        };
        Ok(SessionManager::from_settings(settings).await?)
    }
}

/// The `[session]` table of the figment (when there is one) at file
/// precedence, then the environment.
fn settings_from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
    let builder = Settings::builder();
    let builder = match figment.find_value(FIGMENT_KEY) {
        Ok(table) => {
            let label = match figment.find_metadata(FIGMENT_KEY) {
                Some(metadata) => match &metadata.source {
                    Some(source) => format!("{source} [{FIGMENT_KEY}]"),
                    None => format!("{} [{FIGMENT_KEY}]", metadata.name),
                },
                None => format!("Rocket config [{FIGMENT_KEY}]"),
            };
            builder.serialized(&table, label)
        }
        Err(_) => {
            tracing::info!("Rocket's configuration has no [{FIGMENT_KEY}] table: session settings are the defaults and SESSION_* variables");
            builder
        }
    };
    builder.env().build()
}

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "Server-side sessions",
            kind: Kind::Ignite | Kind::Response | Kind::Shutdown | Kind::Singleton,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        if rocket.state::<SessionManager>().is_some() {
            tracing::error!(
                "a SessionManager is already managed by this rocket: pass it to SessionFairing::new instead of managing it"
            );
            return Err(rocket);
        }
        match self.manager(rocket.figment()).await {
            Ok(manager) => Ok(rocket.manage(Installed(manager.clone())).manage(manager)),
            Err(error) => {
                tracing::error!("sessions could not start: {error}");
                Err(rocket)
            }
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let Some(manager) = rocket.state::<SessionManager>() {
            manager.shutdown().await;
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        // Row 1: a request whose session no guard loaded is left alone.
        let Some(request_session) = state::opened(request) else {
            return;
        };
        if !request_session.is_loaded() {
            return;
        }
        match finish(request_session, response.status().code).await {
            // Rocket has already written its cookie jar into the response, so
            // the session cookie goes in as a raw header.
            ResponseChange::Headers(outcome) => {
                match outcome.vary() {
                    Some("Cookie") => response.adjoin_raw_header("Vary", "Cookie"),
                    Some(vary) => response.adjoin_raw_header("Vary", vary.to_owned()),
                    None => {}
                }
                if let Some(cookie) = outcome.set_cookie {
                    response.adjoin_raw_header("Set-Cookie", cookie);
                }
                // One value, ours: a handler's own value under that name
                // would make the client's sid ambiguous.
                if let Some(header) = outcome.session_header {
                    response.set_raw_header(header.name.to_string(), header.value);
                }
            }
            ResponseChange::Replace { status, body } => {
                *response = Response::build()
                    .status(Status::from_code(status).unwrap_or(Status::InternalServerError))
                    .header(ContentType::Plain)
                    .sized_body(body.len(), Cursor::new(body))
                    .finalize();
            }
        }
    }
}

/// Finishes the request's session after the handler answered `status`, with
/// the store operations, when there are any, in a box of their own. Rocket
/// boxes `on_response`'s future; awaited in place, the store calls would
/// make that box larger for every request with a loaded session, where a
/// read that stores nothing needs some 200 bytes (BENCHMARKS.md, issue 20).
async fn finish(request_session: &RequestSession, status: u16) -> ResponseChange {
    let finished = match request_session.finish_or_defer(status) {
        Ok(Finishing::Done(outcome)) => Ok(outcome),
        Ok(Finishing::Store(store_work)) => Box::pin(store_work.run()).await,
        Err(error) => Err(error),
    };
    adapter::response_change(finished)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use rocket::figment::providers::{Format, Toml};
    use rocket::log::private as log;
    use rocket::Config;

    use super::SessionFairing;

    /// Every `log` record, as `LEVEL message`.
    static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            RECORDS
                .lock()
                .unwrap()
                .push(format!("{} {}", record.level(), record.args()));
        }
        fn flush(&self) {}
    }

    /// A Rocket app logs through `log` and sets no tracing subscriber (none is
    /// set in this test binary): the fairing's error must still reach the
    /// `log` logger, Rocket's own or, here, one standing in for it.
    #[test]
    fn a_configuration_error_reaches_the_log_logger_of_a_rocket_app() {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        let figment = Config::figment().merge(Toml::string("[session]\ncookie_nmae = \"sid\"\n"));
        let rocket = rocket::custom(figment).attach(SessionFairing::from_figment());
        let error = rocket::async_test(rocket.ignite()).err().unwrap();
        assert!(matches!(
            error.kind(),
            rocket::error::ErrorKind::FailedFairings(_)
        ));
        let records = RECORDS.lock().unwrap();
        assert!(
            records
                .iter()
                .any(|r| r.starts_with("ERROR sessions could not start")
                    && r.contains("cookie_nmae")),
            "{records:#?}"
        );
    }
}
