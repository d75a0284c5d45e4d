//! Bare Poem: the demo's `/plain` with no session middleware. Same port and
//! logging as the Poem demo.

use poem::listener::TcpListener;
use poem::{get, handler, Route, Server};
use session_bench::{init_logging, port};

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let app = Route::new().at("/plain", get(plain));
    Server::new(TcpListener::bind(format!("127.0.0.1:{}", port())))
        .run(app)
        .await
        .expect("server");
}
