//! Bare Poem: the demo's `/plain` with no session middleware. Same port,
//! graceful shutdown and logging as the Poem demo.

use poem::{get, handler, Route};
use session_bench::{init_logging, serve_poem};

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() {
    init_logging("info");
    let app = Route::new().at("/plain", get(plain));
    serve_poem(app).await;
}
