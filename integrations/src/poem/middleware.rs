//! The middleware: open before the endpoint, finish after it.

use poem::http::header::{COOKIE, SET_COOKIE, VARY};
use poem::http::{HeaderName, HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use session::{RequestSession, SessionManager, Settings};

use crate::adapter::{self, ResponseChange};
use crate::StartupError;

/// Server-side sessions for a Poem app.
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// Loads the settings from `./Session.toml` (or `$SESSION_CONFIG`) and
    /// `SESSION_*` variables, and builds the store they select.
    ///
    /// # Errors
    ///
    /// [`StartupError::Config`] when `Session.toml` or a `SESSION_*` variable
    /// is invalid (the message names the key, its source and the value), and
    /// [`StartupError::Build`] when the selected store cannot start.
    pub async fn from_config() -> Result<Self, StartupError> {
        Self::from_settings(Settings::load()?).await
    }

    /// Builds the store that `settings` select.
    ///
    /// # Errors
    ///
    /// [`StartupError::Build`] when the selected store cannot start or the
    /// settings break a rule.
    pub async fn from_settings(settings: Settings) -> Result<Self, StartupError> {
        Ok(Self::new(SessionManager::from_settings(settings).await?))
    }

    /// Uses a manager the app built, for example over its own store.
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }

    /// The manager, for by-id operations and tests.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }

    /// Shuts the sessions down once the server has stopped: ends the store's
    /// background cleanup (waiting until it has ended) and closes the pool
    /// the store built ([`SessionManager::shutdown`]). Poem has no shutdown
    /// hook for middleware, so the app calls this after
    /// `Server::run_with_graceful_shutdown` returns; keep a clone of the
    /// middleware (clones share the manager) for it. A request that still
    /// reaches a session extractor after that gets a 503. Idempotent.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use poem::{get, handler, listener::TcpListener, EndpointExt, Route, Server};
    /// use session_integrations::poem::SessionMiddleware;
    ///
    /// #[handler]
    /// fn index() -> &'static str {
    ///     "hello"
    /// }
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let sessions = SessionMiddleware::from_config().await?;
    /// let app = Route::new().at("/", get(index)).with(sessions.clone());
    /// Server::new(TcpListener::bind("127.0.0.1:8000"))
    ///     .run_with_graceful_shutdown(
    ///         app,
    ///         async { tokio::signal::ctrl_c().await.unwrap_or_default() },
    ///         Some(Duration::from_secs(10)),
    ///     )
    ///     .await?;
    /// sessions.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self) {
        self.manager.shutdown().await;
    }
}

impl<E: Endpoint> Middleware<E> for SessionMiddleware {
    type Output = SessionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SessionEndpoint {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The endpoint [`SessionMiddleware`] wraps around the app.
#[derive(Debug)]
pub struct SessionEndpoint<E> {
    inner: E,
    manager: SessionManager,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        // As bytes: a header with another app's non-ASCII cookie is not text
        // to `to_str`, and must not hide the session cookie.
        let headers = req.headers();
        let cookies = headers.get_all(COOKIE).iter().map(|v| v.as_bytes());
        // Header transport: the core reads the session header's lines only
        // when `header_name` is set, and decides which transport the request
        // uses.
        let session_headers = self
            .manager
            .header_name()
            .into_iter()
            .flat_map(|name| headers.get_all(name).iter().map(|v| v.as_bytes()));
        let request_session = self.manager.open_with_header(cookies, session_headers);
        req.extensions_mut().insert(request_session.clone());

        match self.inner.call(req).await {
            Ok(output) => {
                let mut response = output.into_response();
                // Row 1: a session no extractor loaded is left alone.
                if !request_session.is_loaded() {
                    return Ok(response);
                }
                Ok(finish(&request_session, response.status(), &mut response)
                    .await
                    .unwrap_or(response))
            }
            Err(error) => {
                if !request_session.is_loaded() {
                    return Err(error);
                }
                // The session's headers can only go on a response; the
                // message goes with it, for the layers outside (poem's
                // `Tracing` logs it). The error's type does not: an outer
                // `catch_error` sees a response error.
                let message = error.to_string();
                let mut response = error.into_response();
                match finish(&request_session, response.status(), &mut response).await {
                    // Finishing failed: its opaque response replaces the error's.
                    Some(replaced) => Err(poem::Error::from_response(replaced)),
                    None => {
                        let mut error = poem::Error::from_response(response);
                        error.set_error_message(message);
                        Err(error)
                    }
                }
            }
        }
    }
}

/// Finishes the session and applies the outcome to `response`. Returns a
/// replacement response when finishing failed.
async fn finish(
    request_session: &RequestSession, status: StatusCode, response: &mut Response,
) -> Option<Response> {
    match adapter::response_change(request_session.finish(status.as_u16()).await) {
        ResponseChange::Headers(outcome) => {
            let headers = response.headers_mut();
            match outcome.vary() {
                // The usual case, without a copy.
                Some("Cookie") => {
                    headers.append(VARY, HeaderValue::from_static("Cookie"));
                }
                Some(vary) => match HeaderValue::from_str(vary) {
                    Ok(value) => {
                        headers.append(VARY, value);
                    }
                    Err(_) => tracing::error!("a Vary value was not a valid header"),
                },
                None => {}
            }
            if let Some(cookie) = outcome.set_cookie {
                // From a String the header takes the buffer over, without a copy.
                match HeaderValue::try_from(cookie) {
                    Ok(value) => {
                        headers.append(SET_COOKIE, value);
                    }
                    Err(_) => tracing::error!(
                        "a Set-Cookie value was not a valid header; check the cookie settings"
                    ),
                }
            }
            if let Some(header) = outcome.session_header {
                // One value, ours: a handler's own value under that name
                // would make the client's sid ambiguous.
                match (
                    HeaderName::from_bytes(header.name.as_bytes()),
                    HeaderValue::try_from(header.value),
                ) {
                    (Ok(name), Ok(value)) => {
                        headers.insert(name, value);
                    }
                    _ => tracing::error!(
                        "the session header was not a valid header; check SESSION_HEADER_NAME"
                    ),
                }
            }
            None
        }
        ResponseChange::Replace { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(body.with_status(status).into_response())
        }
    }
}
