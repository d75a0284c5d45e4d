//! The Poem adapter's own behaviour: the documented shutdown over a real
//! socket (the server's graceful shutdown, then
//! [`SessionMiddleware::shutdown`], closes the SQL pool and ends the cleanup
//! task; after it, session routes answer 503), an error's message kept, and
//! which session an extractor finds.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{get, handler, Endpoint, EndpointExt, Request, Route, Server};
use session::store::sql::SqlStore;
use session::{SessionManager, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Session, SessionMiddleware};

#[handler]
fn incr(session: Session) -> String {
    let count = session.get::<u32>("count").unwrap().unwrap_or(0) + 1;
    session.insert("count", &count).unwrap();
    count.to_string()
}

#[handler]
fn plain() -> &'static str {
    "plain"
}

fn app(sessions: &SessionMiddleware) -> impl Endpoint {
    Route::new()
        .at("/incr", get(incr))
        .at("/plain", get(plain))
        .with(sessions.clone())
}

/// One HTTP/1.1 request on its own connection; the whole response.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn the_graceful_shutdown_then_the_middlewares_closes_the_pool_and_ends_the_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("sessions.db").display()
    );
    let settings = Settings::from_map([
        ("type", "sqlalchemy"),
        ("sqlalchemy", url.as_str()),
        ("cleanup_interval", "3600"),
    ])
    .unwrap();
    let store = SqlStore::from_settings(&settings).await.unwrap();
    let sessions =
        SessionMiddleware::new(SessionManager::new(settings, Arc::new(store.clone())).unwrap());

    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app(&sessions),
            async {
                stopped.await.ok();
            },
            Some(Duration::from_secs(5)),
        ),
    );

    let response = http_get(addr, "/incr").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\n1"), "{response}");
    assert!(store.cleanup_running());
    assert!(!store.pool().is_closed());

    // As the README shows: the server stops, then the sessions.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    sessions.shutdown().await;
    assert!(sessions.manager().is_shut_down());
    assert!(store.pool().is_closed(), "the pool is closed");
    assert!(!store.cleanup_running(), "the cleanup task has ended");

    // A request that still arrives: a clean 503 on a session route, never a
    // panic, and other routes still work.
    let app = app(&sessions);
    let request = Request::builder().uri_str("/incr").finish();
    assert_eq!(
        app.get_response(request).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let request = Request::builder().uri_str("/plain").finish();
    assert_eq!(app.get_response(request).await.status(), StatusCode::OK);
    sessions.shutdown().await; // idempotent
}

#[handler]
fn refuse(session: Session) -> poem::Result<String> {
    session.insert("tried", &true).unwrap();
    Err(poem::Error::from_string(
        "the order is closed",
        StatusCode::CONFLICT,
    ))
}

/// An error from a route that used the session keeps its message for the
/// layers outside (poem's `Tracing` logs it), and its response gets the
/// session's headers: the middleware must turn it into a response to add them.
#[tokio::test]
async fn an_error_keeps_its_message_and_gets_the_session_headers() {
    let settings = Settings::from_map([("type", "memory")]).unwrap();
    let sessions = SessionMiddleware::from_settings(settings).await.unwrap();
    let app = Route::new().at("/refuse", get(refuse)).with(sessions);
    let error = app
        .call(Request::builder().uri_str("/refuse").finish())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "the order is closed");
    assert_eq!(error.status(), StatusCode::CONFLICT);
    let response = error.into_response();
    assert!(response.headers().contains_key("set-cookie"));
    assert_eq!(response.headers()["vary"], "Cookie");
}

/// Yields to the task first, so that two such requests polled together
/// interleave: each extracts its session after the other has started.
#[handler]
async fn count_after_a_yield(req: &Request) -> String {
    tokio::task::yield_now().await;
    let session = <Session as poem::FromRequest>::from_request_without_body(req)
        .await
        .unwrap();
    session
        .get::<u32>("count")
        .unwrap()
        .unwrap_or(0)
        .to_string()
}

/// The cookie pair (`session=…`) a response sets.
fn session_cookie(response: &poem::Response) -> String {
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// Each extractor finds its own request's session, also when one task polls
/// two requests at once and each extracts after the other has started.
#[tokio::test]
async fn requests_polled_together_in_one_task_each_find_their_own_session() {
    let settings = Settings::from_map([("type", "memory")]).unwrap();
    let sessions = SessionMiddleware::from_settings(settings).await.unwrap();
    let app = Route::new()
        .at("/incr", get(incr))
        .at("/count", get(count_after_a_yield))
        .with(sessions);
    let first = app
        .get_response(Request::builder().uri_str("/incr").finish())
        .await;
    let first = session_cookie(&first);
    let mut second = String::new();
    for _ in 0..3 {
        let response = app
            .get_response(
                Request::builder()
                    .uri_str("/incr")
                    .header("cookie", &second)
                    .finish(),
            )
            .await;
        second = session_cookie(&response);
    }
    let read = |cookie: &str| {
        app.get_response(
            Request::builder()
                .uri_str("/count")
                .header("cookie", cookie)
                .finish(),
        )
    };
    let (one, three) = tokio::join!(read(&first), read(&second));
    assert_eq!(one.into_body().into_string().await.unwrap(), "1");
    assert_eq!(three.into_body().into_string().await.unwrap(), "3");
}

/// Without the middleware the extractor finds no session: a 500 that says
/// why, never a panic.
#[tokio::test]
async fn an_extractor_without_the_middleware_is_refused() {
    let bare = Route::new().at("/incr", get(incr));
    let response = bare
        .get_response(Request::builder().uri_str("/incr").finish())
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().into_string().await.unwrap();
    assert!(body.contains("without SessionMiddleware"), "{body}");
}
