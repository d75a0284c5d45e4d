//! The Redis-backed `/incr` through the session manager against the same
//! round trips done by hand: `GET` + `SET … EX` over the same
//! `ConnectionManager`, with no cookie, codec or lifecycle work. The ratio is
//! what the framework costs on top of the two round trips a write needs.
//!
//! Needs Redis on 127.0.0.1:6379 (or `SESSION_BENCH_REDIS`); keys go under a
//! prefix of their own and are deleted at the end. Not part of the test
//! command:
//!
//! ```text
//! cargo bench -p session-core --features redis --bench redis_incr
//! ```

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use session::config::{ConnectionUrl, SessionType};
use session::store::redis::{RedisConnection, RedisStore};
use session::{SessionData, SessionManager, Settings};
use tokio::runtime::Runtime;

#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

struct Fixture {
    runtime: Runtime,
    manager: SessionManager,
    cookie: String,
    connection: RedisConnection,
    raw_key: String,
    prefix: String,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("SESSION_BENCH_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench:{}:", std::process::id());
    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::Redis;
        settings.redis = vec![ConnectionUrl::new(url)];
        settings.key_prefix = prefix.clone();
        settings
    };
    let (manager, cookie, connection) = runtime.block_on(async {
        let store = RedisStore::from_settings(&settings).await.unwrap();
        let connection = store.connection().unwrap();
        let manager = SessionManager::new(settings, Arc::new(store)).unwrap();
        let request = manager.open([]);
        request.load().await.unwrap().typed::<Visit>().count = 1;
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        (manager, cookie, connection)
    });
    let raw_key = format!("{prefix}raw");
    Fixture {
        runtime,
        manager,
        cookie,
        connection,
        raw_key,
        prefix,
    }
}

impl Fixture {
    /// What the demo's `/incr` does with an existing session.
    async fn incr_through_the_manager(&self) {
        let request = self.manager.open([self.cookie.as_bytes()]);
        {
            let mut visit = request.load().await.unwrap().typed::<Visit>();
            visit.count = visit.count.wrapping_add(1);
        }
        let outcome = request.finish(200).await.unwrap();
        assert!(outcome.set_cookie.is_some());
    }

    /// The same two round trips by hand.
    async fn get_and_set_by_hand(&self) {
        let mut connection = self.connection.clone();
        let value: Option<Vec<u8>> = session::store::redis::redis::cmd("GET")
            .arg(&self.raw_key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let mut value = value.unwrap_or_else(|| b"\x82\xaa_permanent\xc3\xa5count\x01".to_vec());
        if let Some(last) = value.last_mut() {
            *last = (*last + 1) & 0x7f;
        }
        let _: () = session::store::redis::redis::cmd("SET")
            .arg(&self.raw_key)
            .arg(value)
            .arg("EX")
            .arg(2_678_400)
            .query_async(&mut connection)
            .await
            .unwrap();
    }

    /// Mean time per call over `iterations` sequential calls.
    fn timed(&self, iterations: u32, by_hand: bool) -> Duration {
        self.runtime.block_on(async {
            let started = Instant::now();
            for _ in 0..iterations {
                if by_hand {
                    self.get_and_set_by_hand().await;
                } else {
                    self.incr_through_the_manager().await;
                }
            }
            started.elapsed() / iterations
        })
    }

    fn clean_up(&self) {
        self.runtime.block_on(async {
            let store = self.manager.store();
            let sid = self.cookie.split_once('=').unwrap().1;
            store
                .delete(&format!("{}{sid}", self.prefix))
                .await
                .unwrap();
            store.delete(&self.raw_key).await.unwrap();
        });
    }
}

fn main() {
    let fixture = fixture();
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("redis_incr");
    group.bench_function("manager_incr", |b| {
        b.iter_custom(|iterations| fixture.timed(iterations as u32, false) * iterations as u32)
    });
    group.bench_function("raw_get_set_ex", |b| {
        b.iter_custom(|iterations| fixture.timed(iterations as u32, true) * iterations as u32)
    });
    group.finish();

    // The ratio, from interleaved rounds so that drift in the machine's load
    // hits both sides alike.
    let rounds = 10;
    let (mut manager, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        manager.push(fixture.timed(2_000, false));
        raw.push(fixture.timed(2_000, true));
    }
    manager.sort();
    raw.sort();
    let (m, r) = (manager[rounds / 2], raw[rounds / 2]);
    println!(
        "median of {rounds} rounds of 2000: manager /incr {m:?}, raw GET+SET EX {r:?}, ratio {:.2}",
        m.as_secs_f64() / r.as_secs_f64()
    );
    fixture.clean_up();
    criterion.final_summary();
}
