//! The load test: 500 concurrent clients, each with its own cookie jar and
//! its own keep-alive connection, each making 100 sequential `GET /incr`
//! against one demo process, on the shared Redis and the shared PostgreSQL.
//!
//! Every response is checked as it arrives: status 200 (no 5xx, no other
//! error), a body of exactly the client's previous count + 1 (so no response
//! carries another client's data), and a `Set-Cookie` with the client's own
//! sid, which never changes and which no other client was ever given (a
//! global sid → client map). At the end: 500 distinct sids, a `/read` of 100
//! for every client, and 500 records in the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use session_tests::demo::Framework;
use session_tests::kv_servers::{key_prefix_of, redis_count, unique_prefix, REDIS};
use sqlx::{AssertSqlSafe, PgPool};

use crate::harness::{runtime, serial, Conn, Demo, Latencies};

const CLIENTS: usize = 500;
const ROUNDS: u32 = 100;
/// The whole run must end within this, or the test fails.
const TIME_LIMIT: Duration = Duration::from_secs(300);
/// One request must be answered within this.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// Which client was first given each sid.
type Owners = Arc<Mutex<HashMap<String, usize>>>;

struct Client {
    sid: String,
    latencies: Latencies,
}

/// One client's 100 requests; the first violation ends it with a message.
async fn client(id: usize, port: u16, owners: Owners) -> Result<Client, String> {
    let mut conn = Conn::new(port);
    let mut latencies = Latencies::default();
    let mut own: Option<String> = None;
    for expected in 1..=ROUNDS {
        let started = Instant::now();
        let reply = tokio::time::timeout(REQUEST_LIMIT, conn.get("/incr"))
            .await
            .map_err(|_| {
                format!("client {id}, request {expected}: no answer within {REQUEST_LIMIT:?}")
            })?
            .map_err(|e| format!("client {id}, request {expected}: {e}"))?;
        latencies.push(started.elapsed());
        if reply.status != 200 {
            return Err(format!(
                "client {id}, request {expected}: status {} ({})",
                reply.status, reply.body
            ));
        }
        if reply.body != expected.to_string() {
            return Err(format!(
                "client {id}, request {expected}: count {:?}, expected {expected}: another client's data, or a lost write",
                reply.body
            ));
        }
        let sid = reply
            .sid()
            .ok_or_else(|| format!("client {id}, request {expected}: a write without Set-Cookie"))?
            .to_owned();
        match &own {
            None => {
                let mut owners = owners.lock().unwrap();
                if let Some(other) = owners.insert(sid.clone(), id) {
                    return Err(format!("client {id} was given the sid of client {other}"));
                }
                own = Some(sid);
            }
            Some(own) if *own != sid => {
                let owner = owners.lock().unwrap().get(&sid).copied();
                return Err(format!(
                    "client {id}, request {expected}: the sid changed (now client {owner:?}'s)"
                ));
            }
            Some(_) => {}
        }
    }
    // The count as the server has it, through a read that writes nothing.
    let reply = tokio::time::timeout(REQUEST_LIMIT, conn.get("/read"))
        .await
        .map_err(|_| format!("client {id}, /read: no answer"))?
        .map_err(|e| format!("client {id}, /read: {e}"))?;
    if (reply.status, reply.body.as_str()) != (200, "100") {
        return Err(format!(
            "client {id} ended at {:?} (status {}), not 100",
            reply.body, reply.status
        ));
    }
    Ok(Client {
        sid: own.unwrap(),
        latencies,
    })
}

/// Runs the load against a started demo; returns the figures line.
fn run(demo: &Demo, backend: &str, records: impl FnOnce() -> usize) -> String {
    let port = demo.port();
    let owners: Owners = Arc::default();
    let started = Instant::now();
    let results = runtime().block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|id| tokio::spawn(client(id, port, Arc::clone(&owners))))
            .collect();
        tokio::time::timeout(TIME_LIMIT, async {
            let mut results = Vec::with_capacity(CLIENTS);
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        })
        .await
        .unwrap_or_else(|_| panic!("the load did not finish within {TIME_LIMIT:?}"))
    });
    let elapsed = started.elapsed();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if !errors.is_empty() {
        let log = demo.log();
        let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join("\n");
        panic!(
            "{} of {CLIENTS} clients failed; first: {:?}\nthe demo's last log lines:\n{tail}",
            errors.len(),
            &errors[..errors.len().min(5)]
        );
    }
    let clients: Vec<Client> = results.into_iter().map(Result::unwrap).collect();
    let mut latencies = Latencies::default();
    let mut sids = std::collections::HashSet::new();
    for client in clients {
        sids.insert(client.sid);
        latencies.extend(client.latencies);
    }
    assert_eq!(sids.len(), CLIENTS, "distinct sids");
    assert_eq!(owners.lock().unwrap().len(), CLIENTS);
    assert_eq!(records(), CLIENTS, "session records in the store");
    let requests = latencies.len() + CLIENTS;
    let line = format!(
        "[concurrency] {:?} on {backend}: {CLIENTS} clients x {ROUNDS} /incr + 1 /read = {requests} requests, all 200, in {:.1} s ({:.0} req/s); /incr latency {}; {} distinct sids; {CLIENTS} records in the store",
        demo.framework(),
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        latencies.summary(),
        sids.len(),
    );
    eprintln!("{line}");
    line
}

fn redis(framework: Framework) {
    let _serial = serial();
    let toml = format!(
        "type = \"redis\"\nredis = [\"redis://{REDIS}\"]\nkey_prefix = \"{}\"\n",
        unique_prefix("load")
    );
    let mut demo = Demo::start(framework, &toml);
    let prefix = key_prefix_of(&toml);
    run(&demo, "redis", || redis_count(REDIS, &prefix));
    demo.assert_alive_without_panic();
    // Leave nothing behind on the shared server.
    if let session_tests::kv_servers::Reply::Array(keys) =
        session_tests::kv_servers::redis(REDIS, &["KEYS", &format!("{prefix}*")])
    {
        for chunk in keys.chunks(100) {
            let names: Vec<String> = chunk.iter().map(|k| k.text()).collect();
            let mut args = vec!["DEL"];
            args.extend(names.iter().map(String::as_str));
            session_tests::kv_servers::redis(REDIS, &args);
        }
    }
}

const PG_POOL: u32 = 20;
const PG_WAIT: &str = "10s";

fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/sessions_test".to_owned())
}

fn postgres(framework: Framework) {
    let _serial = serial();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // `conf_<secs>_…`: the conformance backend drops such tables when stale.
    let table = format!("conf_{secs}_{}_load_{framework:?}", std::process::id()).to_lowercase();
    // 500 requests in flight share the pool: with the defaults (10
    // connections, a 2 s wait for one) a debug build on two busy cores sheds
    // load with 503s (an exhausted pool is unreachable). An app sized for 500
    // concurrent users gives the pool more connections and time.
    let toml = format!(
        "type = \"sqlalchemy\"\nsqlalchemy = \"{}\"\nsqlalchemy_table = \"{table}\"\npool_size = {PG_POOL}\nconnect_timeout = \"{PG_WAIT}\"\n",
        postgres_url()
    );
    let mut demo = Demo::start(framework, &toml);
    let rt = runtime();
    let pool = rt.block_on(PgPool::connect(&postgres_url())).unwrap();
    run(&demo, "postgresql", || {
        let (count,): (i64,) = rt
            .block_on(
                sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{table}\"")))
                    .fetch_one(&pool),
            )
            .unwrap();
        usize::try_from(count).unwrap()
    });
    demo.assert_alive_without_panic();
    drop(demo);
    rt.block_on(
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS \"{table}\""))).execute(&pool),
    )
    .unwrap();
}

#[test]
#[ignore = "needs live servers: run scripts/test.sh"]
fn poem_redis_500_clients_x_100_incr() {
    redis(Framework::Poem);
}

#[test]
#[ignore = "needs live servers: run scripts/test.sh"]
fn poem_postgres_500_clients_x_100_incr() {
    postgres(Framework::Poem);
}

#[test]
#[ignore = "needs live servers: run scripts/test.sh"]
fn rocket_redis_500_clients_x_100_incr() {
    redis(Framework::Rocket);
}

// Rocket on PostgreSQL is left out of the suite for time: 175 s on the
// shared two-core machine (all 200, same checks as Poem). Run it with
// `postgres(Framework::Rocket)` from a test of your own.
