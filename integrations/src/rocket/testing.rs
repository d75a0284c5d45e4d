//! Seeding and inspecting sessions in tests with Rocket's local `Client`.
//!
//! A [`SessionTester`] works on the manager the [`super::SessionFairing`]
//! built, so with the memory store (`type = "memory"`, or
//! `SessionFairing::new` over a `MemoryStore`) a test needs no server:
//!
//! ```
//! use rocket::local::asynchronous::Client;
//! use rocket::{get, routes};
//! use session::{SessionData, SessionManager, Settings};
//! use session::store::memory::MemoryStore;
//! use session_integrations::rocket::testing::{to_map, SessionTester};
//! use session_integrations::rocket::{SessionFairing, TypedSession};
//!
//! #[derive(Default, SessionData)]
//! struct Visit {
//!     count: u32,
//! }
//!
//! #[get("/incr")]
//! fn incr(mut visit: TypedSession<Visit>) -> String {
//!     visit.count += 1;
//!     visit.count.to_string()
//! }
//!
//! # rocket::async_test(async {
//! let manager = SessionManager::new(Settings::default(), std::sync::Arc::new(MemoryStore::new()))?;
//! let rocket = rocket::build().attach(SessionFairing::new(manager)).mount("/", routes![incr]);
//! let client = Client::untracked(rocket).await?;
//! let sessions = SessionTester::new(client.rocket())?;
//!
//! // Seed a session and send its cookie.
//! let cookie = sessions.seed(&to_map(&Visit { count: 41 })?).await?;
//! let response = client.get("/incr").cookie(cookie).dispatch().await;
//!
//! // Inspect what the response's cookie names.
//! let map = sessions.read(response.cookies()).await?.expect("a session");
//! assert_eq!(Visit::from_map(&map).count, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::future::Future;

use rocket::http::{Cookie, CookieJar};
use rocket::{Phase, Rocket};
use session::{FinishError, LoadError, SessionData, SessionManager, SessionMap, ValueError};

use super::state::Installed;

/// Why a test helper failed.
#[derive(Debug, thiserror::Error)]
pub enum TestingError {
    /// The rocket has not ignited with a [`super::SessionFairing`].
    #[error("the rocket has no SessionFairing, or has not ignited yet: build the tester from `client.rocket()`")]
    MissingFairing,
    /// The session could not be written.
    #[error(transparent)]
    Seed(#[from] FinishError),
    /// The session could not be read.
    #[error(transparent)]
    Read(#[from] LoadError),
    /// A runtime for a blocking helper could not be started.
    #[error("a runtime for a blocking helper could not start: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Seeds and inspects sessions through the manager of an ignited rocket.
#[derive(Debug, Clone)]
pub struct SessionTester {
    manager: SessionManager,
}

impl SessionTester {
    /// A tester over the manager of `rocket`, which must have ignited with the
    /// fairing: pass `client.rocket()`.
    ///
    /// # Errors
    ///
    /// [`TestingError::MissingFairing`] when the rocket has not ignited with
    /// the fairing.
    pub fn new<P: Phase>(rocket: &Rocket<P>) -> Result<Self, TestingError> {
        let Installed(manager) = rocket
            .state::<Installed>()
            .ok_or(TestingError::MissingFairing)?;
        Ok(Self {
            manager: manager.clone(),
        })
    }

    /// The manager, for the by-id operations.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }

    /// Stores `map` as a new session and returns the cookie that names it,
    /// signed when `use_signer` is on: add it to a `LocalRequest` with
    /// `.cookie(cookie)`.
    ///
    /// # Errors
    ///
    /// [`TestingError::Seed`] when the session cannot be encoded or stored.
    pub async fn seed(&self, map: &SessionMap) -> Result<Cookie<'static>, TestingError> {
        let value = self.manager.create(map).await?;
        Ok(Cookie::new(self.manager.cookie_name().to_owned(), value))
    }

    /// The session that the session cookie in `cookies` names: pass
    /// `response.cookies()` of a `LocalResponse`. `None` when there is no
    /// session cookie (the response did not set one, or set a deletion
    /// cookie) or its session is not in the store.
    ///
    /// # Errors
    ///
    /// [`TestingError::Read`] when the store cannot be read.
    pub async fn read(&self, cookies: &CookieJar<'_>) -> Result<Option<SessionMap>, TestingError> {
        match cookies.get(self.manager.cookie_name()) {
            Some(cookie) => self.read_cookie(cookie).await,
            None => Ok(None),
        }
    }

    /// The session that `cookie` names, such as one [`seed`](Self::seed)
    /// returned; `None` when it is invalid or its session is not in the store.
    /// The read does not slide the expiry.
    ///
    /// # Errors
    ///
    /// [`TestingError::Read`] when the store cannot be read.
    pub async fn read_cookie(
        &self, cookie: &Cookie<'_>,
    ) -> Result<Option<SessionMap>, TestingError> {
        Ok(self.manager.load_by_cookie(cookie.value()).await?)
    }

    /// [`seed`](Self::seed), for tests with the blocking `Client`.
    ///
    /// # Errors
    ///
    /// As [`Self::seed`], and [`TestingError::Runtime`] when its runtime cannot
    /// start.
    pub fn seed_blocking(&self, map: &SessionMap) -> Result<Cookie<'static>, TestingError> {
        block_on(self.seed(map))?
    }

    /// [`read`](Self::read), for tests with the blocking `Client`.
    ///
    /// # Errors
    ///
    /// As [`Self::read`], and [`TestingError::Runtime`] when its runtime cannot
    /// start.
    pub fn read_blocking(
        &self, cookies: &CookieJar<'_>,
    ) -> Result<Option<SessionMap>, TestingError> {
        block_on(self.read(cookies))?
    }
}

/// The session map holding `value`'s fields, to [`seed`](SessionTester::seed)
/// a typed session.
///
/// # Errors
///
/// [`ValueError`] when a field cannot be encoded.
pub fn to_map<T: SessionData>(value: &T) -> Result<SessionMap, ValueError> {
    let mut map = SessionMap::new();
    for (key, field) in T::KEYS.iter().zip(value.to_fields()?) {
        if let Some(raw) = field {
            map.insert_raw((*key).to_owned(), raw);
        }
    }
    Ok(map)
}

/// Runs a helper on a runtime of its own: the blocking `Client` keeps its
/// runtime private.
fn block_on<F: Future>(future: F) -> Result<F::Output, TestingError> {
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}
