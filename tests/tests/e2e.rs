//! End-to-end: the conformance suite over real HTTP against each demo, and the
//! start-up checks.

use session_tests::backends::{
    Filesystem, MariaDb, Memcached, Memory, MongoDb, Postgres, Redis, RedisCluster, Sqlite,
};
use session_tests::conformance_suite;
use session_tests::demo::{DemoApp, Framework};

conformance_suite!(poem_memory, Framework::Poem, Memory);
conformance_suite!(poem_filesystem, Framework::Poem, Filesystem);
conformance_suite!(rocket_memory, Framework::Rocket, Memory);
conformance_suite!(rocket_filesystem, Framework::Rocket, Filesystem);
conformance_suite!(poem_mongodb, Framework::Poem, MongoDb, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_mongodb, Framework::Rocket, MongoDb, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(poem_sqlite, Framework::Poem, Sqlite);
conformance_suite!(rocket_sqlite, Framework::Rocket, Sqlite);
conformance_suite!(poem_postgres, Framework::Poem, Postgres, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_postgres, Framework::Rocket, Postgres, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(poem_mariadb, Framework::Poem, MariaDb, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_mariadb, Framework::Rocket, MariaDb, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(poem_redis, Framework::Poem, Redis, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_redis, Framework::Rocket, Redis, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(poem_redis_cluster, Framework::Poem, RedisCluster, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_redis_cluster, Framework::Rocket, RedisCluster, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(poem_memcached, Framework::Poem, Memcached, #[ignore = "needs live servers: run scripts/test.sh"]);
conformance_suite!(rocket_memcached, Framework::Rocket, Memcached, #[ignore = "needs live servers: run scripts/test.sh"]);

/// Redis command counts per route and a Redis restart under a running demo.
#[path = "e2e/redis_faults.rs"]
mod redis_faults;

/// One `#[test]` per start-up check for a framework's demo.
macro_rules! startup_checks {
    ($module:ident, $framework:expr) => {
        mod $module {
            use super::Framework;

            #[test]
            fn fails_on_a_bad_session_type() {
                super::startup_fails_on_a_bad_session_type($framework);
            }
            #[test]
            fn fails_on_a_typo_in_session_toml() {
                super::startup_fails_on_a_typo_in_session_toml($framework);
            }
            #[test]
            fn writes_under_the_null_backend_name_session_type() {
                super::writes_under_the_null_backend_name_session_type($framework);
            }
        }
    };
}

startup_checks!(poem_startup, Framework::Poem);
startup_checks!(rocket_startup, Framework::Rocket);

fn startup_fails_on_a_bad_session_type(framework: Framework) {
    let output = DemoApp::expect_startup_failure(framework, "", &[("SESSION_TYPE", "rediss")]);
    assert!(output.contains("SESSION_TYPE"), "{output}");
    assert!(output.contains("rediss"), "{output}");
}

fn startup_fails_on_a_typo_in_session_toml(framework: Framework) {
    let output = DemoApp::expect_startup_failure(
        framework,
        "type = \"memory\"\ncookie_nmae = \"sid\"\n",
        &[],
    );
    assert!(output.contains("cookie_nmae"), "{output}");
    assert!(output.contains("cookie_name"), "did you mean: {output}");
    assert!(output.contains("Session.toml"), "{output}");
}

fn writes_under_the_null_backend_name_session_type(framework: Framework) {
    let app = DemoApp::start(framework, "type = \"null\"\n", &[]);
    let mut client = app.client();
    assert_eq!(client.get("/read").body, "0", "reads work");
    let response = client.get("/incr");
    assert_eq!(response.status, 500);
    assert!(response.body.contains("SESSION_TYPE"), "{}", response.body);
}

/// A demo whose SQL database is down refuses to start, naming the backend
/// and the URL with its password redacted.
#[test]
fn startup_fails_when_the_sql_database_is_down() {
    let port = session_tests::port::free_port();
    let toml = format!(
        "type = \"sqlalchemy\"\nsqlalchemy = \"postgres://app:hunter2@127.0.0.1:{port}/db\"\nconnect_timeout = \"500ms\"\n"
    );
    for framework in [Framework::Poem, Framework::Rocket] {
        let output = DemoApp::expect_startup_failure(framework, &toml, &[]);
        assert!(output.contains("postgres"), "{output}");
        assert!(
            output.contains(&format!("127.0.0.1:{port}")) && output.contains("***"),
            "{output}"
        );
        assert!(!output.contains("hunter2"), "{output}");
    }
}
