//! Backend servers of a fault test's own, each on a free port with a data
//! directory of its own, that the test kills with SIGKILL and starts again.
//! The shared services (6379, 5432, 11211, 27017) are never touched.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_tests::kv_servers::OwnRedis;
use session_tests::port::free_port;

use crate::harness::user_ids;

/// A server a fault test can kill and start again.
pub trait FaultServer {
    /// For figures and messages.
    fn name(&self) -> &'static str;
    /// The demo's `Session.toml` for this server.
    fn session_toml(&self) -> String;
    /// Whether it keeps sessions across a kill (RELIABILITY.md).
    fn durable(&self) -> bool;
    /// SIGKILL, and waits until the port is closed.
    fn kill(&mut self);
    /// Starts it again on the same port and data, and waits until it
    /// accepts connections.
    fn start(&mut self);
    /// The timeouts in its `Session.toml`: `(connect, operation)`.
    fn timeouts(&self) -> (Duration, Duration);
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn kill_child(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn timeouts_toml((connect, operation): (Duration, Duration)) -> String {
    format!(
        "connect_timeout = \"{}ms\"\noperation_timeout = \"{}ms\"\n",
        connect.as_millis(),
        operation.as_millis()
    )
}

// --- Redis ---

/// `redis-server --appendonly yes --appendfsync always` (the harness's
/// [`OwnRedis`]): durable across a kill.
pub struct Redis(OwnRedis);

impl Redis {
    pub fn start() -> Self {
        Self(OwnRedis::start(true))
    }
}

impl FaultServer for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn session_toml(&self) -> String {
        format!(
            "type = \"redis\"\nredis = [\"{}\"]\n{}",
            self.0.url(),
            timeouts_toml(self.timeouts())
        )
    }
    fn durable(&self) -> bool {
        true
    }
    fn kill(&mut self) {
        self.0.stop();
    }
    fn start(&mut self) {
        self.0.restart();
    }
    fn timeouts(&self) -> (Duration, Duration) {
        (Duration::from_millis(500), Duration::from_millis(500))
    }
}

// --- PostgreSQL ---

/// The newest PostgreSQL server binaries of the machine.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .expect("a PostgreSQL version with bin/postgres")
}

/// A PostgreSQL cluster of its own: `initdb` into a temp dir as the
/// `postgres` user, `postgres` on a free port. A kill takes the whole process
/// group (postmaster and backends) at once, as a machine crash would; the
/// restart runs crash recovery from the WAL.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    ids: (u32, u32),
}

impl Postgres {
    pub fn start() -> Self {
        let bin = postgres_bin();
        let ids = user_ids("postgres");
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1)).unwrap();
        let status = {
            use std::os::unix::process::CommandExt;
            Command::new(bin.join("initdb"))
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "-N", "-D"])
                .arg(dir.path().join("data"))
                .uid(ids.0)
                .gid(ids.1)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
        };
        assert!(status.success(), "initdb failed");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            bin,
            ids,
        };
        server.start();
        server
    }

    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl FaultServer for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn session_toml(&self) -> String {
        format!(
            "type = \"sqlalchemy\"\nsqlalchemy = \"postgres://postgres@127.0.0.1:{}/postgres\"\npool_size = 8\n{}",
            self.port,
            timeouts_toml(self.timeouts())
        )
    }
    fn durable(&self) -> bool {
        true
    }
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
            wait_until(
                "the postgres process group gone",
                Duration::from_secs(10),
                || {
                    !Command::new("kill")
                        .args(["-0", "--", &group])
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                },
            );
        }
        wait_until("postgres port closed", Duration::from_secs(10), || {
            !port_open(self.port)
        });
    }
    fn start(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .unwrap();
        std::os::unix::fs::chown(self.dir.path().join("postgres.log"), Some(self.ids.0), None)
            .unwrap();
        let child = Command::new(self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "max_connections=40", "-c", "shared_buffers=16MB"])
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on"])
            .uid(self.ids.0)
            .gid(self.ids.1)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until(
            "postgres accepting connections",
            Duration::from_secs(30),
            || self.ready(),
        );
    }
    fn timeouts(&self) -> (Duration, Duration) {
        (Duration::from_millis(500), Duration::from_millis(1000))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

// --- memcached ---

/// `memcached -p N`: not durable; a restart loses every session.
pub struct Memcached {
    child: Option<Child>,
    port: u16,
}

impl Memcached {
    pub fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        server.start();
        server
    }
}

impl FaultServer for Memcached {
    fn name(&self) -> &'static str {
        "memcached"
    }
    fn session_toml(&self) -> String {
        format!(
            "type = \"memcached\"\nmemcached = [\"127.0.0.1:{}\"]\n{}",
            self.port,
            timeouts_toml(self.timeouts())
        )
    }
    fn durable(&self) -> bool {
        false
    }
    fn kill(&mut self) {
        kill_child(&mut self.child);
        wait_until("memcached port closed", Duration::from_secs(10), || {
            !port_open(self.port)
        });
    }
    fn start(&mut self) {
        // Root must name a user to run as; memcached drops to it.
        let child = Command::new("memcached")
            .args(["-u", "memcache", "-l", "127.0.0.1", "-U", "0", "-m", "64"])
            .args(["-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("memcached on the PATH (scripts/services.sh installs it)");
        self.child = Some(child);
        wait_until(
            "memcached accepting connections",
            Duration::from_secs(10),
            || port_open(self.port),
        );
    }
    fn timeouts(&self) -> (Duration, Duration) {
        (Duration::from_millis(500), Duration::from_millis(500))
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

// --- the MongoDB test server ---

/// The venv `scripts/services.sh` (`ensure_mongodb`) installs SecantusDB in.
fn secantusd() -> PathBuf {
    let state = std::env::var_os("SESSION_TEST_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-services"));
    let path = state.join("venv-mongo/bin/secantusd-py");
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh (ensure_mongodb installs it)",
        path.display()
    );
    path
}

/// The MongoDB test server (`secantusd-py`) on a free port, with its
/// WiredTiger data in a directory of its own and `--sync-on-commit`: durable
/// across a kill.
pub struct Mongo {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    binary: PathBuf,
    collection: String,
}

impl Mongo {
    pub fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            binary: secantusd(),
            collection: format!("faults_{}", std::process::id()),
        };
        server.start();
        server
    }
}

impl FaultServer for Mongo {
    fn name(&self) -> &'static str {
        "mongodb"
    }
    fn session_toml(&self) -> String {
        format!(
            "type = \"mongodb\"\nmongodb = \"mongodb://127.0.0.1:{}/?directConnection=true\"\nmongodb_db = \"faults\"\nmongodb_collect = \"{}\"\n{}",
            self.port,
            self.collection,
            timeouts_toml(self.timeouts())
        )
    }
    fn durable(&self) -> bool {
        true
    }
    fn kill(&mut self) {
        kill_child(&mut self.child);
        wait_until("mongodb port closed", Duration::from_secs(10), || {
            !port_open(self.port)
        });
    }
    fn start(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mongodb.log"))
            .unwrap();
        let child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(self.dir.path().join("data"))
            .args(["--sync-on-commit", "--log-level", "WARNING"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until(
            "mongodb accepting connections",
            Duration::from_secs(60),
            || port_open(self.port),
        );
    }
    fn timeouts(&self) -> (Duration, Duration) {
        // The test server is slow (Python): a tight operation timeout would
        // turn a busy moment into 503s with the server up.
        (Duration::from_millis(1000), Duration::from_millis(3000))
    }
}

impl Drop for Mongo {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}
