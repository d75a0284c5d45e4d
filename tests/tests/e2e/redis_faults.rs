//! Redis under a running demo, on a redis-server of the test's own (never the
//! shared one): the store commands each route costs, counted with `INFO
//! commandstats`, and a server stopped and restarted while the demo runs.

use std::time::{Duration, Instant};

use session_tests::demo::{DemoApp, Framework};
use session_tests::http::{Client, Response};
use session_tests::kv_servers::{redis, redis_command_calls, OwnRedis};

fn session_toml(server: &OwnRedis) -> String {
    format!(
        "type = \"redis\"\nredis = [\"{}\"]\nconnect_timeout = \"500ms\"\noperation_timeout = \"500ms\"\n",
        server.url()
    )
}

/// The response to `path`, and the Redis commands it cost.
fn counted(server: &OwnRedis, client: &mut Client, path: &str) -> (Response, Vec<(String, u64)>) {
    redis(&server.addr(), &["CONFIG", "RESETSTAT"]);
    let response = client.get(path);
    (response, redis_command_calls(&server.addr()))
}

fn total(calls: &[(String, u64)]) -> u64 {
    calls.iter().map(|(_, n)| n).sum()
}

/// The round-trip budget (BENCHMARKS.md): 0 commands for a route that does not
/// use the session (cookie or not), 1 for a read, 2 for a write.
pub fn commands_per_request(framework: Framework) {
    let server = OwnRedis::start(false);
    let app = DemoApp::start(framework, &session_toml(&server), &[]);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    assert!(client.cookie.is_some());
    // The first conditional save on a server loads its script (NOSCRIPT,
    // SCRIPT LOAD, EVALSHA again), once; what follows is the steady state.
    assert_eq!(client.get("/incr").body, "2");

    let (response, calls) = counted(&server, &mut client, "/plain");
    assert_eq!(response.body, "ok");
    assert_eq!(total(&calls), 0, "/plain with a cookie: {calls:?}");

    let (response, calls) = counted(&server, &mut client, "/read");
    assert_eq!(response.body, "2");
    assert_eq!(calls, vec![("getex".to_owned(), 1)], "/read");

    // A write is GETEX, then the conditional save as one EVALSHA: two round
    // trips from the client. `INFO commandstats` also counts the GET and SET
    // the script runs inside the server, which cost no round trip.
    let (response, calls) = counted(&server, &mut client, "/incr");
    assert_eq!(response.body, "3");
    let mut client_sent: Vec<_> = calls
        .iter()
        .filter(|(command, _)| command == "getex" || command == "evalsha")
        .cloned()
        .collect();
    client_sent.sort();
    assert_eq!(
        client_sent,
        vec![("evalsha".to_owned(), 1), ("getex".to_owned(), 1)],
        "/incr: {calls:?}"
    );
    assert_eq!(
        total(&calls),
        4,
        "/incr: GETEX, EVALSHA and the script's GET and SET: {calls:?}"
    );
}

/// Session routes answer 503 at once while Redis is down and `/plain` keeps
/// answering; after a restart everything works again with no app restart.
/// The server persists every write, so the session survives the restart.
pub fn redis_stopped_and_restarted(framework: Framework) {
    let mut server = OwnRedis::start(true);
    let app = DemoApp::start(framework, &session_toml(&server), &[]);
    let mut client = app.client();
    assert_eq!(client.get("/incr").body, "1");
    assert_eq!(client.get("/incr").body, "2");

    server.stop();
    let mut fresh = app.client();
    for (who, path) in [("cookie", "/read"), ("cookie", "/incr"), ("fresh", "/incr")] {
        let client = if who == "fresh" {
            &mut fresh
        } else {
            &mut client
        };
        let started = Instant::now();
        let response = client.get(path);
        let elapsed = started.elapsed();
        assert_eq!(
            response.status, 503,
            "{who} {path} while Redis is down: {}",
            response.body
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{who} {path} took {elapsed:?}"
        );
        assert!(
            response.session_cookie().is_none(),
            "no cookie on a failed request"
        );
    }
    let plain = client.get("/plain");
    assert_eq!((plain.status, plain.body.as_str()), (200, "ok"));

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    let read = loop {
        let response = client.get("/read");
        if response.status == 200 || Instant::now() > deadline {
            break response;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (read.status, read.body.as_str()),
        (200, "2"),
        "after the restart"
    );
    assert_eq!(client.get("/incr").body, "3");
    assert_eq!(fresh.get("/incr").body, "1");
}

/// Start-up with Redis down fails, naming the backend and the URL with its
/// password redacted.
pub fn startup_fails_while_redis_is_down(framework: Framework) {
    // A port nothing listens on once the probe is dropped.
    let port = session_tests::port::free_port();
    let toml = format!(
        "type = \"redis\"\nredis = [\"redis://user:hunter2@127.0.0.1:{port}/0\"]\nconnect_timeout = \"500ms\"\n"
    );
    let started = Instant::now();
    let output = DemoApp::expect_startup_failure(framework, &toml, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(output.contains("redis"), "{output}");
    assert!(output.contains(&format!("127.0.0.1:{port}")), "{output}");
    assert!(!output.contains("hunter2"), "the password leaked: {output}");
}

/// One `#[test]` per check for a framework's demo.
macro_rules! redis_fault_checks {
    ($module:ident, $framework:expr) => {
        mod $module {
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn commands_per_request() {
                super::commands_per_request($framework);
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn redis_stopped_and_restarted() {
                super::redis_stopped_and_restarted($framework);
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn startup_fails_while_redis_is_down() {
                super::startup_fails_while_redis_is_down($framework);
            }
        }
    };
}

redis_fault_checks!(poem, session_tests::demo::Framework::Poem);
redis_fault_checks!(rocket, session_tests::demo::Framework::Rocket);
