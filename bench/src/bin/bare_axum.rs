//! Bare axum: the demo's `/plain` with no session layer. Same port and
//! logging as the Poem demo.

use axum::routing::get;
use axum::Router;
use session_bench::{init_logging, port};

async fn plain() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let app = Router::new().route("/plain", get(plain));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{}", port()))
        .await
        .expect("the port is free");
    axum::serve(listener, app).await.expect("server");
}
