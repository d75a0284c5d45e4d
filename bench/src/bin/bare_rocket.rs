//! Bare Rocket: the demo's `/plain` with no session fairing. Same port,
//! configuration and logging as the Rocket demo.

use rocket::{get, routes, Config};
use session_bench::{init_logging, port};

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[rocket::main]
async fn main() {
    init_logging("info,rocket=warn");
    let figment = Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port()));
    let _ = rocket::custom(figment)
        .mount("/", routes![plain])
        .launch()
        .await
        .expect("server");
}
