//! The MongoDB store, on the MongoDB-compatible test server the test command
//! starts on 127.0.0.1:27017 (or `SESSION_TEST_MONGODB`). Every app gets a
//! collection of its own, so the cases run in parallel.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use tokio::runtime::Runtime;

use super::Backend;
use crate::demo::DemoApp;

/// The database the conformance apps' collections live in.
pub const DATABASE: &str = "session_conformance";

/// The test server's URL.
pub fn url() -> String {
    std::env::var("SESSION_TEST_MONGODB").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".to_owned())
}

/// The MongoDB store, one collection per app.
pub struct MongoDb;

impl Backend for MongoDb {
    fn session_toml(&self, extra: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let collection = format!(
            "app_{}_{nanos}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // The test server is slow and the suite runs in parallel: a generous
        // operation timeout keeps a busy machine from turning reads into 503s.
        format!(
            "type = \"mongodb\"\nmongodb = \"{}\"\nmongodb_db = \"{DATABASE}\"\nmongodb_collect = \"{collection}\"\noperation_timeout = 10\n{extra}",
            url()
        )
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let toml = std::fs::read_to_string(app.dir.path().join("Session.toml")).unwrap();
        let collection = toml
            .lines()
            .find_map(|line| line.strip_prefix("mongodb_collect = "))
            .map(|quoted| quoted.trim_matches('"').to_owned())
            .expect("the app's collection");
        let (runtime, client) = driver();
        let count = runtime
            .block_on(
                client
                    .database(DATABASE)
                    .collection::<Document>(&collection)
                    .count_documents(doc! {})
                    .into_future(),
            )
            .unwrap();
        Some(usize::try_from(count).unwrap())
    }
}

/// One client (and the runtime that drives its monitors) for the whole test
/// binary.
fn driver() -> &'static (Runtime, Client) {
    static DRIVER: OnceLock<(Runtime, Client)> = OnceLock::new();
    DRIVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let mut options = ClientOptions::parse(url()).await.unwrap();
            options.server_selection_timeout = Some(Duration::from_secs(10));
            Client::with_options(options).unwrap()
        });
        (runtime, client)
    })
}
