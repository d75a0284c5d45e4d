//! The README's Poem and Rocket quickstarts, run in process on this package
//! alone: nothing named `session` is in scope here (the core is a dependency
//! under another name), so the derive's generated code must reach everything
//! through `::server_sessions`.

#![allow(clippy::unwrap_used)]

use server_sessions::{SessionData, Settings};

#[derive(Default, SessionData)]
struct Visit {
    count: u32,
}

fn memory() -> Settings {
    Settings::from_map([("type", "memory")]).unwrap()
}

/// The `name=value` pair of a `Set-Cookie`, as a browser sends it back.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

mod poem_quickstart {
    use poem::http::header::{COOKIE, SET_COOKIE};
    use poem::{get, handler, Endpoint, EndpointExt, Request, Route};
    use server_sessions::poem::{Session, SessionMiddleware, TypedSession};

    use super::{memory, pair, Visit};

    #[handler]
    fn incr(mut visit: TypedSession<Visit>) -> String {
        visit.count += 1; // written back when the handler returns
        visit.count.to_string()
    }

    #[handler]
    fn logout(session: Session) {
        session.clear(); // deletes the record and expires the cookie
    }

    #[tokio::test]
    async fn counts_and_logs_out() {
        let sessions = SessionMiddleware::from_settings(memory()).await.unwrap();
        let app = Route::new()
            .at("/incr", get(incr))
            .at("/logout", get(logout))
            .with(sessions.clone());

        let first = app
            .get_response(Request::builder().uri_str("/incr").finish())
            .await;
        let cookie = pair(first.headers().get(SET_COOKIE).unwrap().to_str().unwrap());
        assert_eq!(first.into_body().into_string().await.unwrap(), "1");
        let get = |path: &str| {
            Request::builder()
                .uri_str(path)
                .header(COOKIE, cookie.as_str())
                .finish()
        };
        let second = app.get_response(get("/incr")).await;
        assert_eq!(second.into_body().into_string().await.unwrap(), "2");
        let out = app.get_response(get("/logout")).await;
        let expired = out.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
        assert!(expired.contains("Max-Age=0"), "{expired}");
        let again = app.get_response(get("/incr")).await;
        assert_eq!(again.into_body().into_string().await.unwrap(), "1");

        sessions.shutdown().await;
        assert!(sessions.manager().is_shut_down());
    }
}

mod rocket_quickstart {
    use rocket::local::asynchronous::Client;
    use rocket::{get, routes};
    use server_sessions::rocket::{Session, SessionFairing, TypedSession};

    use super::{memory, Visit};

    #[get("/incr")]
    fn incr(mut visit: TypedSession<Visit>) -> String {
        visit.count += 1; // written back when the handler returns
        visit.count.to_string()
    }

    #[get("/logout")]
    fn logout(session: Session) {
        session.clear(); // deletes the record and expires the cookie
    }

    #[rocket::async_test]
    async fn counts_and_logs_out() {
        let rocket = rocket::custom(rocket::Config::debug_default())
            .attach(SessionFairing::from_settings(memory()))
            .mount("/", routes![incr, logout]);
        // The tracked client keeps the cookie, as a browser does.
        let client = Client::tracked(rocket).await.unwrap();
        for expected in ["1", "2"] {
            let response = client.get("/incr").dispatch().await;
            assert_eq!(response.into_string().await.unwrap(), expected);
        }
        client.get("/logout").dispatch().await;
        let response = client.get("/incr").dispatch().await;
        assert_eq!(response.into_string().await.unwrap(), "1");
        let manager = client
            .rocket()
            .state::<server_sessions::SessionManager>()
            .unwrap()
            .clone();
        client.terminate().await;
        assert!(manager.is_shut_down(), "the fairing shut the sessions down");
    }
}
